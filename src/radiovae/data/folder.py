"""Any folder of radio maps: PNG or NPY files, found recursively, sorted by path.

PNG: gray (8 or 16 bit; the first channel of a colour image) / max * 2 - 1, as RadioDiff normalises
RadioMapSeer. NPY: a 2-D float array (or (1, H, W)); ``npy="unit"`` expects values in [0, 1]
(RadioMapSeer's gray / 255), ``npy="db"`` expects path gain in dB and maps it with RadioMapSeer's
floor and ceiling (radiovae.data.grayscale), without the 8-bit rounding. Both end in [-1, 1].
Hidden files and radiovae's own preview.png / stats.png at the top of the folder are skipped. Maps
of different sizes need ``size`` to be batched.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from radiovae.data.grayscale import GAIN_CEILING_DB, GAIN_FLOOR_DB
from radiovae.data.radiomapseer import radiodiff_order, split_positions
from radiovae.errors import UserError

SUFFIXES = (".png", ".npy")
OWN_FILES = {"preview.png", "stats.png"}  # what `radiovae data preview / stats DIR` write into DIR


def _load_unit(path: Path, npy: str) -> np.ndarray:
    """One map as float32 in [0, 1]; UserError naming the file when it is not a radio map."""
    try:
        if path.suffix.lower() == ".png":
            with Image.open(path) as im:
                a = np.asarray(im)
            a = a[..., 0] if a.ndim == 3 else a
            top = 65535.0 if a.dtype == np.uint16 else 255.0
            return a.astype(np.float32) / top
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read radio map {path}: {exc}") from None
    a = np.squeeze(np.asarray(a))
    if a.ndim != 2 or not np.issubdtype(a.dtype, np.number):
        raise UserError(f"{path}: expected a 2-D numeric array, got shape {a.shape} {a.dtype}")
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise UserError(f"{path}: holds NaN or infinite values")
    if npy == "db":
        return (np.clip(a, GAIN_FLOOR_DB, GAIN_CEILING_DB) - GAIN_FLOOR_DB) / (
            GAIN_CEILING_DB - GAIN_FLOOR_DB)
    if a.min() < -1e-3 or a.max() > 1 + 1e-3:
        raise UserError(f"{path}: values span [{a.min():.4g}, {a.max():.4g}], not [0, 1]; "
                        f"for gains in dB use npy='db'")
    return np.clip(a, 0.0, 1.0)


class FolderMaps(Dataset):
    """Every ``*.png`` / ``*.npy`` under ``root`` (recursive, sorted) as {"image": (1, H, W) in
    [-1, 1], "name": path relative to root}. ``size`` resizes (bilinear); ``split`` picks a
    disjoint train / val / test share of the files (RadioDiff's seed-42 shuffle, 600/50/50 of 700)."""

    def __init__(self, root: str | os.PathLike, size: int | None = None, npy: str = "unit",
                 split: str | None = None):
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise UserError(f"radio map folder {self.root} does not exist or is not a directory")
        if npy not in ("unit", "db"):
            raise UserError(f"npy must be 'unit' ([0, 1]) or 'db' (path gain in dB), got {npy!r}")
        files = sorted(p for p in self.root.rglob("*")
                       if p.suffix.lower() in SUFFIXES and p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(self.root).parts)
                       and p.relative_to(self.root).as_posix() not in OWN_FILES)
        if not files:
            raise UserError(f"radio map folder {self.root} holds no .png or .npy files")
        if split is not None:
            order = radiodiff_order(len(files))
            files = [files[order[p]] for p in split_positions(len(files), split, "disjoint")]
        self.files, self.size, self.npy = files, size, npy
        self[0]  # fail now, with the file's name, if the first map is not readable

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict:
        path = self.files[i]
        a = _load_unit(path, self.npy)
        if self.size is not None and a.shape != (self.size, self.size):
            a = np.asarray(Image.fromarray(a).resize((self.size, self.size),
                                                               Image.BILINEAR))
        return {"image": torch.from_numpy(a * 2.0 - 1.0).unsqueeze(0),
                "name": path.relative_to(self.root).as_posix()}
