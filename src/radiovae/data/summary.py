"""Look at a radio-map data set: a preview grid and summary statistics.

Both work on a folder in RadioMapSeer's layout (any simulations: DPM, IRT4, SYN, SionnaRT, ...),
on a folder whose sub-folders are such data sets (e.g. generated and ray-traced maps side by side),
and, for the preview, on any folder of PNG / NPY maps.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from radiovae.data.grayscale import GAIN_CEILING_DB, GAIN_FLOOR_DB, gray_to_db
from radiovae.data.layout import Layout, read_png
from radiovae.errors import UserError

_TX_PNG = re.compile(r"^(\d+)_(\d+)\.png$")
STATS_SAMPLE_LIMIT = 2000  # radio maps read per simulation for the statistics (evenly spaced)


@dataclass
class Simulation:
    """The radio maps of one gain/<name> folder."""

    root: Path
    name: str
    samples: list[tuple[int, int]] = field(default_factory=list)  # (map, tx), sorted

    @property
    def layout(self) -> Layout:
        return Layout(self.root)

    @property
    def maps(self) -> list[int]:
        return sorted({m for m, _ in self.samples})


def find_datasets(root: str | os.PathLike) -> list[list[Simulation]]:
    """The RadioMapSeer-layout data sets at ``root`` or one level below, each as its simulations."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"data folder {root} does not exist or is not a directory")
    if (root / "png").is_dir() and not (root / "gain").is_dir():
        raise UserError(f"{root} has png/ but no gain/<simulation>/ folder of radio maps")
    candidates = [root] if (root / "gain").is_dir() else sorted(
        p for p in root.iterdir() if p.is_dir() and (p / "gain").is_dir())
    datasets = []
    for base in candidates:
        sims = []
        for name in Layout(base).simulations():
            samples = sorted((int(m.group(1)), int(m.group(2)))
                             for f in os.listdir(base / "gain" / name) if (m := _TX_PNG.match(f)))
            if samples:
                sims.append(Simulation(base, name, samples))
        if sims:
            datasets.append(sims)
    return datasets


def _spread(items: list, n: int) -> list:
    """n items evenly spaced over the list (all of them if there are fewer)."""
    if len(items) <= n:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def _pick_samples(sims: list[Simulation], n: int) -> list[tuple[int, int]]:
    """Spread over maps first (one transmitter per map, varied), then over transmitters."""
    common = sorted(set.intersection(*(set(s.samples) for s in sims)))
    by_map: dict[int, list[int]] = {}
    for m, k in common:
        by_map.setdefault(m, []).append(k)
    maps = _spread(sorted(by_map), n)
    picked = [(m, by_map[m][(i * 7) % len(by_map[m])]) for i, m in enumerate(maps)]
    rest = [s for s in common if s not in set(picked)]
    return sorted(picked + _spread(rest, n - len(picked)))


def preview(root: str | os.PathLike, out: str | os.PathLike | None = None, samples: int = 6) -> Path:
    """A grid image: per sample a column; rows buildings, transmitter, then the gain of every
    simulation (samples shared by all simulations of a data set). Returns the PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from radiovae.io import atomic_path

    root = Path(root).expanduser()
    out = Path(out) if out else root / "preview.png"
    blocks: list[tuple[str, list[tuple[str, np.ndarray, tuple[int, int] | None]], list[str]]] = []
    for sims in find_datasets(root):
        picked = _pick_samples(sims, samples)
        if not picked:  # simulations with no sample in common: one block each
            for sim in sims:
                blocks.append(_block([sim], _pick_samples([sim], samples), root))
        else:
            blocks.append(_block(sims, picked, root))
    if not blocks:
        blocks = [_folder_block(root, samples)]
    cols = max(len(b[2]) for b in blocks)
    rows = sum(len(b[1]) // max(1, len(b[2])) for b in blocks)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols + 1.2, 1.9 * rows + 0.4),
                             squeeze=False)
    r = 0
    for title, panels, names in blocks:
        n = max(1, len(names))
        for i, (label, image, tx) in enumerate(panels):
            ax = axes[r + i // n, i % n]
            ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            if tx is not None:
                ax.plot(tx[1], tx[0], marker="+", color="red", markersize=9, mew=1.5)
            if i < n:
                ax.set_title(f"{title}{names[i]}" if title else names[i], fontsize=7)
            if i % n == 0:
                ax.set_ylabel(label, fontsize=8)
        for i in range(len(panels), (len(panels) + n - 1) // n * n):
            axes[r + i // n, i % n].set_visible(False)
        for c in range(n, cols):
            for rr in range(r, r + len(panels) // n):
                axes[rr, c].set_visible(False)
        r += len(panels) // n
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{root}: gain as RadioMapSeer gray (0 = {GAIN_FLOOR_DB:g} dB or building, "
                 f"255 = {GAIN_CEILING_DB:g} dB)", fontsize=8)
    height = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / height))  # leave room for the title
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return out


def _block(sims: list[Simulation], picked: list[tuple[int, int]], root: Path):
    base = sims[0].root
    layout = Layout(base)
    prefix = "" if base == root else f"{base.name}: "
    buildings, antennas, gains = [], [], {s.name: [] for s in sims}
    for m, k in picked:
        b = read_png(layout.buildings(m)) if layout.buildings(m).is_file() else None
        a = read_png(layout.antenna(m, k)) if layout.antenna(m, k).is_file() else None
        shape = read_png(layout.gain(sims[0].name, m, k)).shape
        b = np.zeros(shape, np.uint8) if b is None else b
        tx = tuple(int(v) for v in np.unravel_index(np.argmax(a), a.shape)) if a is not None else None
        buildings.append(("buildings", b, None))
        antennas.append(("transmitter", (b > 0).astype(np.uint8) * 90, tx))
        for s in sims:
            gains[s.name].append((f"gain {s.name}", read_png(layout.gain(s.name, m, k)), None))
    panels = buildings + antennas + [p for s in sims for p in gains[s.name]]
    return prefix, panels, [f"{m}_{k}" for m, k in picked]


def _folder_block(root: Path, samples: int):
    from radiovae.data.folder import FolderMaps

    ds = FolderMaps(root)
    idx = _spread(list(range(len(ds))), samples)
    panels = []
    for i in idx:
        item = ds[i]
        panels.append(("map", np.rint((item["image"][0].numpy() + 1) * 127.5).astype(np.uint8), None))
    return "", panels, [ds.files[i].name for i in idx]


# -- statistics ---------------------------------------------------------------------------------

@dataclass
class SimulationStats:
    dataset: str
    simulation: str
    maps: int
    tx_min: int
    tx_max: int
    samples: int
    sampled: int
    size: tuple[int, int]
    building_share: float
    coverage: float  # share of non-building pixels above the floor (gray > 0)
    mean_db: float
    median_db: float
    histogram: np.ndarray  # counts of gray 0..255 over non-building pixels


def simulation_stats(sim: Simulation, label: str, progress=None, task=None,
                     limit: int = STATS_SAMPLE_LIMIT) -> SimulationStats:
    layout = sim.layout
    per_map: dict[int, int] = {}
    for m, _ in sim.samples:
        per_map[m] = per_map.get(m, 0) + 1
    chosen = _spread(sim.samples, limit)
    hist = np.zeros(256, dtype=np.int64)
    building_px = total_px = 0
    masks: dict[int, np.ndarray] = {}
    shape = (0, 0)
    for m, k in chosen:
        gray = read_png(layout.gain(sim.name, m, k))
        shape = gray.shape
        if m not in masks:
            path = layout.buildings(m)
            masks = {m: read_png(path) > 0 if path.is_file() else np.zeros(gray.shape, bool)}
        mask = masks[m]
        if mask.shape != gray.shape:
            mask = np.zeros(gray.shape, bool)
        hist += np.bincount(gray[~mask], minlength=256)
        building_px += int(mask.sum())
        total_px += mask.size
        if progress is not None:
            progress.advance(task)
    free = int(hist.sum())
    db = gray_to_db(np.arange(256))
    cdf = np.cumsum(hist)
    return SimulationStats(
        dataset=label, simulation=sim.name, maps=len(per_map), tx_min=min(per_map.values()),
        tx_max=max(per_map.values()), samples=len(sim.samples), sampled=len(chosen), size=shape,
        building_share=building_px / max(1, total_px),
        coverage=float(hist[1:].sum() / max(1, free)),
        mean_db=float((hist * db).sum() / max(1, free)),
        median_db=float(db[np.searchsorted(cdf, free / 2)]) if free else float("nan"),
        histogram=hist,
    )


def text_histogram(hist: np.ndarray, bins: int = 10, width: int = 40) -> list[str]:
    """Compact histogram lines of gray counts, labelled in dB."""
    edges = np.linspace(0, 256, bins + 1).astype(int)
    counts = np.array([hist[a:b].sum() for a, b in zip(edges[:-1], edges[1:], strict=True)])
    share = counts / max(1, counts.sum())
    lo_db, hi_db = gray_to_db(edges[:-1]), gray_to_db(edges[1:] - 1)
    lines = []
    for lo, hi, s in zip(lo_db, hi_db, share, strict=True):
        bar = "█" * int(round(s / max(share.max(), 1e-12) * width))
        lines.append(f"  {lo:7.1f} .. {hi:7.1f} dB {s * 100:5.1f}% {bar}")
    return lines


def stats(root: str | os.PathLike, progress: bool = True) -> list[SimulationStats]:
    """Statistics of every simulation of every data set at ``root``."""
    from radiovae.progress import make_progress

    root = Path(root).expanduser()
    datasets = find_datasets(root)
    if not datasets:
        raise UserError(f"{root} holds no radio maps in RadioMapSeer's layout "
                        f"(gain/<simulation>/{{map}}_{{tx}}.png), nor sub-folders that do")
    result = []
    total = sum(min(len(s.samples), STATS_SAMPLE_LIMIT) for sims in datasets for s in sims)
    with make_progress(disable=not progress) as bar:
        task = bar.add_task("reading radio maps", total=total)
        for sims in datasets:
            label = "." if sims[0].root == root else sims[0].root.name
            for sim in sims:
                result.append(simulation_stats(sim, label, bar, task))
    return result


def write_histogram_png(results: list[SimulationStats], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from radiovae.io import atomic_path

    db = gray_to_db(np.arange(256))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for s in results:
        share = s.histogram / max(1, s.histogram.sum())
        name = s.simulation if s.dataset == "." else f"{s.dataset}/{s.simulation}"
        ax.step(db[1:], share[1:] * 100, where="mid", label=f"{name} (coverage {s.coverage:.0%})")
    ax.set_xlabel("path gain (dB), non-building pixels above the floor")
    ax.set_ylabel("share of pixels (%)")
    ax.set_title("gain histogram", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return out
