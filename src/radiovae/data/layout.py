"""RadioMapSeer's on-disk layout, shared by the writers (generator, ray tracer) and the loader.

    png/buildings_complete/{m}.png     building mask (255 = building, 0 = free space)
    png/antennas/{m}_{k}.png           one nonzero pixel at transmitter k
    png/cars/{m}.png                   car mask (RadioMapSeer only)
    gain/<SIM>/{m}_{k}.png             path gain, gray scale (see grayscale.py)

Map names are integers (``m``), transmitters are numbered from 0 (``k``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from radiovae.io import atomic_path


@dataclass(frozen=True)
class Layout:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    def buildings(self, m: int | str) -> Path:
        return self.root / "png" / "buildings_complete" / f"{m}.png"

    def antenna(self, m: int | str, k: int) -> Path:
        return self.root / "png" / "antennas" / f"{m}_{k}.png"

    def cars(self, m: int | str) -> Path:
        return self.root / "png" / "cars" / f"{m}.png"

    def gain(self, simulation: str, m: int | str, k: int) -> Path:
        return self.root / "gain" / simulation / f"{m}_{k}.png"

    def simulations(self) -> list[str]:
        gain_dir = self.root / "gain"
        return sorted(p.name for p in gain_dir.iterdir() if p.is_dir()) if gain_dir.is_dir() else []


def write_png(path: Path, image: np.ndarray) -> None:
    """Save a uint8 gray image atomically (a crash never leaves a truncated PNG)."""
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(tmp, format="PNG")


def read_png(path: Path) -> np.ndarray:
    """Load a PNG as a 2-D uint8 array (first channel if it has several)."""
    with Image.open(path) as im:
        arr = np.asarray(im)
    return arr[..., 0] if arr.ndim == 3 else arr
