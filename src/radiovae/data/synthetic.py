"""The built-in generator as a torch Dataset: the maps ``radiovae data synth`` would write, in memory.

Images are quantised to RadioMapSeer's 8-bit gray exactly as the PNGs are, so training on
``SyntheticMaps(m, k, size, seed)`` and on the folder ``radiovae data synth --maps m --tx k
--size size --seed seed`` wrote (read with RadioMapSeer(..., simulation="SYN")) sees identical
numbers.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from radiovae.data.generator import SIMULATION, generate_maps
from radiovae.data.grayscale import gray_to_unit


class SyntheticMaps(Dataset):
    """``num_maps`` cities x ``tx_per_map`` transmitters, generated once (eagerly, with a progress
    bar; ``workers`` processes). Item ``i`` is map ``i // tx_per_map``, transmitter
    ``i % tx_per_map``, like RadioMapSeer's loader."""

    simulation = SIMULATION

    def __init__(self, num_maps: int, tx_per_map: int, size: int = 256, seed: int = 0,
                 workers: int = 1, progress: bool = True, regime: str = "street"):
        if num_maps <= 0 or tx_per_map <= 0 or size < 16:
            raise ValueError(f"need num_maps > 0, tx_per_map > 0, size >= 16; got "
                             f"{num_maps}, {tx_per_map}, {size}")
        self.num_maps, self.tx_per_map, self.size, self.seed = num_maps, tx_per_map, size, seed
        maps = generate_maps(num_maps, tx_per_map, size=size, seed=seed, workers=workers,
                             progress=progress, description="synthetic radio maps",
                             regime=regime)
        self.buildings = np.stack([m.buildings for m in maps])  # (M, H, W) bool
        self.tx = np.stack([m.tx for m in maps])  # (M, K, 2)
        self.gray = np.stack([m.gains for m in maps])  # (M, K, H, W) uint8

    def __len__(self) -> int:
        return self.num_maps * self.tx_per_map

    def __getitem__(self, i: int) -> dict:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        m, k = divmod(i % len(self), self.tx_per_map)
        tx = torch.zeros(1, self.size, self.size)
        tx[0, self.tx[m, k, 0], self.tx[m, k, 1]] = 1.0
        return {
            "image": torch.from_numpy(gray_to_unit(self.gray[m, k])).unsqueeze(0),
            "buildings": torch.from_numpy(self.buildings[m]).float().unsqueeze(0),
            "tx": tx,
            "name": f"{m}_{k}",
        }
