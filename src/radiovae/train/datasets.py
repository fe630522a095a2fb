"""The data a config's ``data`` section names, split by split, and the trainer's resumable batches.

Synthetic splits are disjoint by seed (train: ``seed``, val / test: other seeds), so held-out maps
are maps the model never saw. RadioMapSeer splits as RadioDiff does (``split_scheme: radiodiff``,
whose test set overlaps its training set by one map) or disjointly. A folder with train/ val/
test/ subfolders splits by them, otherwise into disjoint shares of its files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from radiovae.errors import UserError
from radiovae.train.config import DataConfig

SPLIT_SEED = {"train": 0, "val": 1_000_003, "test": 2_000_006}


def resolve_simulation(data: DataConfig) -> str | None:
    """``data.simulation: auto``: RadioDiff's DPM when the root has it, else the one simulation
    there (``radiovae data synth`` writes SYN); a note saying which, or None if nothing to pick."""
    if data.name != "radiomapseer" or data.simulation != "auto":
        return None
    gain = Path(data.root).expanduser() / "gain"
    prefix = "cars" if data.cars else ""
    found = sorted(p.name[len(prefix):] for p in gain.iterdir()
                   if p.is_dir() and p.name.startswith(prefix)
                   and (prefix or not p.name.startswith("cars"))) if gain.is_dir() else []
    if "DPM" in found:
        pick = "DPM"
    elif len(found) == 1:
        pick = found[0]
    else:
        raise UserError(f"data.simulation auto: {gain} holds {', '.join(found) or 'no simulations'}"
                        "; say which with --set data.simulation=NAME")
    data.simulation = pick
    return f"data.simulation auto -> {pick} (of {', '.join(found)} under {gain})"


def build_dataset(data: DataConfig, split: str, progress: bool = True) -> Dataset:
    """The dataset of one split for a resolved ``data`` config section."""
    from radiovae import data as rd

    name = data.name
    if name == "synthetic":
        n = data.num_maps if split == "train" else data.eval_num_maps
        workers = min(os.cpu_count() or 1, 4) if n * data.tx_per_map >= 1000 else 1
        return rd.SyntheticMaps(n, data.tx_per_map, size=data.size,
                                seed=data.seed + SPLIT_SEED[split], workers=workers,
                                progress=progress, regime=data.regime)
    root = Path(data.root).expanduser()
    if not root.is_dir():
        raise UserError(f"data.root is not a directory: {root}")
    if name == "radiomapseer":
        resolve_simulation(data)
        return rd.RadioMapSeer(root, split=split, simulation=data.simulation, cars=data.cars,
                               scheme=data.split_scheme, size=data.size)
    if name == "folder":
        if (root / split).is_dir():
            return rd.FolderMaps(root / split, size=data.size)
        return rd.FolderMaps(root, size=data.size, split=split)
    raise UserError(f"unknown data.name {name!r}")


def data_config_for(path: str | Path, base: DataConfig) -> DataConfig:
    """``radiovae eval --data``: a YAML config (its data section) or a data directory."""
    from radiovae.data.layout import Layout
    from radiovae.train.config import load_config

    path = Path(path)
    if path.is_file():
        return load_config(path).data
    if not path.is_dir():
        raise UserError(f"--data is neither a config file nor a directory: {path}")
    sims = Layout(path).simulations()
    if not sims:
        return replace(base, root=str(path), name="folder")
    simulation = base.simulation if base.simulation in sims else sims[0]
    return replace(base, root=str(path), name="radiomapseer", simulation=simulation)


def fit_size(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize (B, C, H, W) to size x size (area / bilinear) if it is not that already."""
    if images.shape[-2:] == (size, size):
        return images
    mode = "area" if images.shape[-1] > size else "bilinear"
    return F.interpolate(images, size=(size, size), mode=mode)


def batches(dataset: Dataset, batch_size: int, *, seed: int, epoch: int, index: int,
            rank: int, world_size: int, num_workers: int
            ) -> Iterator[tuple[torch.Tensor, int, int]]:
    """Endless shuffled batches of ``image``, resumable: yields (images, epoch, next_index).

    Epoch e's order is a function of (seed, e) alone (DistributedSampler), so (epoch, index)
    is the whole data position a checkpoint needs. The loader gets its own generator, so worker
    seeding never touches the global RNG that the posterior samples draw from.
    """
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True,
                                 seed=seed, drop_last=True)
    per_epoch = len(sampler) // batch_size
    if per_epoch == 0:
        raise UserError(f"data: {len(dataset)} maps are fewer than one batch of {batch_size} "
                        f"per process ({world_size} processes)")
    while True:
        sampler.set_epoch(epoch)
        order = list(sampler)
        chunks = [order[i * batch_size:(i + 1) * batch_size] for i in range(index, per_epoch)]
        loader = DataLoader(dataset, batch_sampler=chunks, num_workers=num_workers,
                            generator=torch.Generator().manual_seed(seed + epoch),
                            pin_memory=torch.cuda.is_available())
        for batch in loader:
            index += 1
            yield batch["image"], epoch, index
        epoch, index = epoch + 1, 0
