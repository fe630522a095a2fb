"""RadioMapSeer, read exactly as RadioDiff reads it (lib/loaders.py, class RadioUNet_c).

RadioDiff's standard split: the map indices 0..699 are shuffled with ``np.random.seed(42)``; a
split is an inclusive range of positions in that order, and the file name of the map at position
p is ``order[p] + 1`` (so RadioMapSeer's map 0 is never used):

    train  positions   0..600   601 maps
    val    positions 600..650    51 maps
    test   positions 600..699   100 maps

The ranges overlap: the map at position 600 (file 289) is in all three splits, so RadioDiff's test
set shares one map (80 radio maps) with its training set, and every validation map is also a test
map. ``scheme="disjoint"`` gives non-overlapping splits
(train 0..599, val 600..649, test 650..699). Item ``i`` of a split is map ``i // num_tx``,
transmitter ``i % num_tx``, and the gain is normalised as RadioDiff does: gray / 255 * 2 - 1.

RadioDiff's VAE (train_vae.py, ``data.name: radio``) trains on ``RadioUNet_c(phase="train")``:
simulation DPM, 80 transmitters, 601 maps = 48,080 radio maps; the defaults here are the same
(``num_tx=None`` finds RadioMapSeer's 80). (RadioDiff's IRT4 loader divides by 256 instead of 255;
this class always uses 255, the gray scale's true maximum.)

Any folder in the same layout loads too, e.g. ``radiovae data synth`` output (simulation "SYN") or
ray-traced maps: with fewer than the 700 maps named 1..700, the same shuffle (seed 42) runs over
the maps present, sorted by name, and the split boundaries scale with their number.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from radiovae.data.grayscale import gray_to_unit
from radiovae.data.layout import Layout, read_png
from radiovae.errors import UserError

RADIODIFF_MAPS = 700
RADIODIFF_SEED = 42
SPLITS = ("train", "val", "test")
# inclusive position ranges out of 700, as in RadioDiff's RadioUNet_c
RADIODIFF_RANGES = {"train": (0, 600), "val": (600, 650), "test": (600, 699)}
DISJOINT_RANGES = {"train": (0, 599), "val": (600, 649), "test": (650, 699)}
LAYOUT_HINT = ("expected RadioMapSeer's layout: png/buildings_complete/{map}.png, "
               "png/antennas/{map}_{tx}.png, gain/<simulation>/{map}_{tx}.png")

_MAP_PNG = re.compile(r"^(\d+)\.png$")
_TX_PNG = re.compile(r"^(\d+)_(\d+)\.png$")


def radiodiff_order(n: int = RADIODIFF_MAPS) -> np.ndarray:
    """RadioDiff's deterministic shuffle of 0..n-1 (np.random.seed(42); np.random.shuffle),
    computed on a private RandomState so that the global NumPy stream is left alone."""
    order = np.arange(0, n, 1, dtype=np.int64)
    np.random.RandomState(RADIODIFF_SEED).shuffle(order)
    return order


def split_positions(n: int, split: str, scheme: str = "radiodiff") -> range:
    """Positions (into :func:`radiodiff_order`) of ``split`` among ``n`` maps.

    For n = 700 these are RadioDiff's ranges (or the disjoint ones); for other n the boundaries
    600/700 and 650/700 are scaled, each split keeping at least one map."""
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    if scheme not in ("radiodiff", "disjoint"):
        raise UserError(f"unknown split scheme {scheme!r}: use 'radiodiff' or 'disjoint'")
    if n == RADIODIFF_MAPS:
        lo, hi = (RADIODIFF_RANGES if scheme == "radiodiff" else DISJOINT_RANGES)[split]
        return range(lo, hi + 1)
    if scheme == "radiodiff":
        a = min(round(600 * n / RADIODIFF_MAPS), n - 1)
        b = min(round(650 * n / RADIODIFF_MAPS), n - 1)
        lo, hi = {"train": (0, a), "val": (a, b), "test": (a, n - 1)}[split]
        return range(lo, hi + 1)
    if n < 3:
        raise UserError(f"a disjoint train/val/test split needs at least 3 maps, found {n}")
    a = min(max(1, round(600 * n / RADIODIFF_MAPS)), n - 2)
    b = min(max(a + 1, round(650 * n / RADIODIFF_MAPS)), n - 1)
    return {"train": range(0, a), "val": range(a, b), "test": range(b, n)}[split]


def split_maps(map_names: list[int], split: str, scheme: str = "radiodiff") -> list[int]:
    """Map names of ``split``. With RadioMapSeer's maps (names 1..700 present) this is exactly
    RadioDiff's list (name = shuffled index + 1); otherwise the sorted names present play the
    part of 1..700."""
    names = sorted(set(map_names))
    if set(range(1, RADIODIFF_MAPS + 1)) <= set(names):
        names = list(range(1, RADIODIFF_MAPS + 1))
    order = radiodiff_order(len(names))
    return [names[order[p]] for p in split_positions(len(names), split, scheme)]


def _listing(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _check_root(root: Path, gain_dir: str) -> None:
    """One clear error naming what is missing from a RadioMapSeer-like folder."""
    if not root.is_dir():
        raise UserError(f"RadioMapSeer root {root} does not exist or is not a directory")
    for sub in ("RadioMapSeer", "radiomapseer", "RadioMapSeer/RadioMapSeer"):
        if not (root / "png").is_dir() and (root / sub / "png").is_dir():
            raise UserError(f"RadioMapSeer root {root} has no png/ but {root / sub} has: "
                            f"pass {root / sub} as the root")
    missing = [d for d in ("png/buildings_complete", "png/antennas") if not (root / d).is_dir()]
    if missing:
        raise UserError(f"RadioMapSeer root {root} has no {' and no '.join(missing)} "
                        f"({LAYOUT_HINT})")
    if not (root / "gain" / gain_dir).is_dir():
        found = Layout(root).simulations()
        raise UserError(f"RadioMapSeer root {root} has no gain/{gain_dir} (found: "
                        f"{', '.join(found) if found else 'nothing under gain/'})")


class RadioMapSeer(Dataset):
    """RadioMapSeer (or any folder in its layout) as RadioDiff's first stage reads it.

    simulation: DPM | IRT2 | IRT4 | SYN | any gain/<name>; ``cars=True`` reads gain/cars<name>
    (carsDPM, ...). num_tx: transmitters per map (RadioMapSeer: 80; 2 for IRT4); None: all the
    transmitters the first map of the split has. scheme: "radiodiff" (RadioDiff's overlapping
    ranges) or "disjoint". size: resize to size x size (gain bilinear, masks nearest).

    Items: {"image": (1, H, W) in [-1, 1], "buildings": (1, H, W) {0, 1}, "tx": (1, H, W) {0, 1},
    "name": "<map>_<tx>"}.
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", simulation: str = "DPM",
                 cars: bool = False, num_tx: int | None = None, scheme: str = "radiodiff",
                 size: int | None = None):
        self.root = Path(root).expanduser()
        self.layout = Layout(self.root)
        self.simulation = simulation
        self.gain_dir = simulation if not cars or simulation.startswith("cars") else f"cars{simulation}"
        _check_root(self.root, self.gain_dir)
        map_names = [int(m.group(1)) for f in _listing(self.root / "png" / "buildings_complete")
                     if (m := _MAP_PNG.match(f))]
        if not map_names:
            raise UserError(f"RadioMapSeer root {self.root} has no maps: png/buildings_complete/ "
                            f"holds no {{map}}.png files ({LAYOUT_HINT})")
        self.split, self.scheme, self.size = split, scheme, size
        self.maps = split_maps(map_names, split, scheme)
        gains = {(int(m.group(1)), int(m.group(2))) for f in _listing(self.root / "gain" / self.gain_dir)
                 if (m := _TX_PNG.match(f))}
        antennas = {(int(m.group(1)), int(m.group(2))) for f in _listing(self.root / "png" / "antennas")
                    if (m := _TX_PNG.match(f))}
        if num_tx is None:
            num_tx = 0
            while (self.maps[0], num_tx) in gains:
                num_tx += 1
            if num_tx == 0:
                raise UserError(f"{self.root / 'gain' / self.gain_dir} has no radio maps of map "
                                f"{self.maps[0]} ({{map}}_{{tx}}.png)")
        if num_tx <= 0:
            raise UserError(f"num_tx must be positive, got {num_tx}")
        self.num_tx = num_tx
        for label, have, where in (("gain", gains, f"gain/{self.gain_dir}"),
                                   ("antenna", antennas, "png/antennas")):
            lacking = [f"{m}_{k}.png" for m in self.maps for k in range(num_tx) if (m, k) not in have]
            if lacking:
                raise UserError(
                    f"RadioMapSeer root {self.root}: {len(lacking)} {label} files of the {split} "
                    f"split missing from {where} (e.g. {', '.join(lacking[:3])}); "
                    f"num_tx={num_tx}" + ("" if len(have) else f" - {where} is empty"))

    def __len__(self) -> int:
        return len(self.maps) * self.num_tx

    def _read(self, path: Path) -> np.ndarray:
        try:
            return read_png(path)
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read {path}: {exc}") from None

    def _resize(self, a: np.ndarray, resample: int) -> np.ndarray:
        if self.size is None or a.shape == (self.size, self.size):
            return a
        return np.asarray(Image.fromarray(a).resize((self.size, self.size), resample))

    def __getitem__(self, i: int) -> dict:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        m, k = divmod(i % len(self), self.num_tx)
        m = self.maps[m]
        gain = self._resize(self._read(self.layout.gain(self.gain_dir, m, k)), Image.BILINEAR)
        buildings = self._resize(self._read(self.layout.buildings(m)), Image.NEAREST)
        tx = self._read(self.layout.antenna(m, k))
        if self.size is not None and tx.shape != (self.size, self.size):  # keep the one pixel
            small = np.zeros((self.size, self.size), dtype=np.uint8)
            r, c = np.unravel_index(int(np.argmax(tx)), tx.shape)
            small[r * self.size // tx.shape[0], c * self.size // tx.shape[1]] = 255
            tx = small
        return {
            "image": torch.from_numpy(gray_to_unit(gain)).unsqueeze(0),
            "buildings": torch.from_numpy((buildings > 0).astype(np.float32)).unsqueeze(0),
            "tx": torch.from_numpy((tx > 0).astype(np.float32)).unsqueeze(0),
            "name": f"{m}_{k}",
        }
