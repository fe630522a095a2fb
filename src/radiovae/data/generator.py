"""Procedural city radio maps that look like ray-traced ones, fast enough to train a VAE on.

A map is a 256 m x 256 m city (radiovae.data.city: street networks, lots, buildings of varied
footprint and height; one pixel is 256/size metres) and the path gain of one transmitter in it
(radiovae.data.propagation: exact line of sight, dominant corner paths, wall reflections, and
over-roof diffraction for a transmitter above the roofs), its parameters drawn per map from the
ranges calibrated against Sionna RT. The gain is mapped to RadioMapSeer's 8-bit gray scale
(radiovae.data.grayscale); buildings are 0, the transmitter pixel 255.

Regimes: ``street`` (RadioMapSeer's: transmitter at street level among taller buildings, the
default), ``above_roof`` (a rooftop mast) and ``mixed`` (each city draws one, half and half).

Everything is a pure function of (seed, map index): the same seed gives the same maps whatever
the number of worker processes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radiovae.data.city import CITY_M, make_city, place_transmitters
from radiovae.data.grayscale import db_to_gray
from radiovae.data.gridcity import make_grid_map
from radiovae.data.layout import Layout, write_png_fast
from radiovae.data.propagation import REGIMES, Scene, draw_params, stage
from radiovae.errors import UserError

SIMULATION = "SYN"  # gain/SYN/ in RadioMapSeer's layout
# "grid": the first generator's grid-block cities (radiovae.data.gridcity), which the demo uses
REGIME_CHOICES = (*REGIMES, "mixed", "grid")


def gain_to_gray(gain_db: np.ndarray, buildings: np.ndarray, ty: int, tx: int) -> np.ndarray:
    """RadioMapSeer gray: clipped and scaled, buildings 0, the transmitter pixel the brightest."""
    gray = db_to_gray(np.where(np.isfinite(gain_db), gain_db, -1e3))
    gray[buildings] = 0
    gray[ty, tx] = 255
    return gray


@dataclass
class SynthMap:
    buildings: np.ndarray  # (n, n) bool
    tx: np.ndarray  # (k, 2) int rows, cols
    gains: np.ndarray  # (k, n, n) uint8 gray
    heights: np.ndarray | None = None  # (n, n) float32 metres
    regime: str = "street"


def check_regime(regime: str) -> str:
    if regime not in REGIME_CHOICES:
        raise UserError(f"unknown regime {regime!r}; choose one of {', '.join(REGIME_CHOICES)}")
    return regime


def make_map(seed: int, index: int, tx_per_map: int, size: int = 256,
             regime: str = "street", timings: dict[str, float] | None = None) -> SynthMap:
    """Map ``index`` of the family ``seed``: a pure function of its arguments (``timings``
    collects the seconds spent per stage, for benchmarks/datagen.py)."""
    if regime == "grid":
        buildings, tx, gains = make_grid_map(seed, index, tx_per_map, size)
        return SynthMap(buildings=buildings, tx=tx, gains=gains, regime="grid")
    rng = np.random.default_rng([seed, index])
    with stage(timings, "city"):
        city = make_city(rng, size)
    if regime == "mixed":
        regime = REGIMES[int(rng.integers(len(REGIMES)))]
    tx = place_transmitters(rng, city.buildings, tx_per_map)
    heights = city.heights.copy()
    heights[tx[:, 0], tx[:, 1]] = 0.0  # (a fallback position inside a building becomes open)
    with stage(timings, "scene tables"):
        scene = Scene(heights, CITY_M / size, timings)
    gains = np.empty((tx_per_map, size, size), dtype=np.uint8)
    for k, (ty, tx_) in enumerate(tx):
        params = draw_params(rng, regime)
        gain = scene.gain_db(int(ty), int(tx_), params, regime, rng)
        with stage(timings, "gray scale"):
            gains[k] = gain_to_gray(gain, scene.blocked, int(ty), int(tx_))
    return SynthMap(buildings=scene.blocked, tx=tx, gains=gains, heights=heights, regime=regime)


# -- writing RadioMapSeer's layout --------------------------------------------------------------

def _write_map(job: tuple[str, int, int, int, int, str]) -> int:
    root, seed, index, tx_per_map, size, regime = job
    layout = Layout(Path(root))
    m = make_map(seed, index, tx_per_map, size, regime)
    antenna = np.zeros((size, size), dtype=np.uint8)
    for k, (ty, tx) in enumerate(m.tx):
        antenna[ty, tx] = 255
        write_png_fast(layout.antenna(index, k), antenna)
        antenna[ty, tx] = 0
        write_png_fast(layout.gain(SIMULATION, index, k), m.gains[k])
    # The building mask goes last: a mask without gain/SYN/{m}_0.png is another source's map.
    write_png_fast(layout.buildings(index), m.buildings.astype(np.uint8) * 255)
    return tx_per_map


@contextlib.contextmanager
def _mapper(workers: int, jobs: int) -> Iterator[Callable]:
    """``imap`` over ``workers`` processes (fork: no re-import of the caller's script, the
    children only run numpy and PIL), or plain ``map`` for one worker."""
    if workers <= 1 or jobs <= 1:
        yield map
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ctx.Pool(min(workers, jobs)) as pool:
        chunk = max(1, min(8, jobs // (4 * workers)))
        yield lambda func, items: pool.imap(func, items, chunksize=chunk)


def synthesize(out: str | os.PathLike, maps: int, tx: int, size: int = 256, seed: int = 0,
               workers: int = 1, progress: bool = True, regime: str = "street") -> Layout:
    """Write ``maps`` cities x ``tx`` transmitters in RadioMapSeer's layout under ``out``
    (maps named 0..maps-1, simulation ``SYN``). Deterministic in ``seed`` for any ``workers``."""
    from radiovae.progress import make_progress

    check_regime(regime)
    layout = Layout(Path(out))
    foreign = sorted(m for m in layout.map_ids() & set(range(maps))
                     if not layout.gain(SIMULATION, m, 0).is_file())
    if foreign:
        raise UserError(f"{out} already holds map {foreign[0]} from another source "
                        f"({len(foreign)} such map(s) in 0..{maps - 1}, e.g. ray-traced ones); "
                        "write the synthetic maps to a separate --out")
    for dirpath in ("png/buildings_complete", "png/antennas", f"gain/{SIMULATION}"):
        (Path(out) / dirpath).mkdir(parents=True, exist_ok=True)
    jobs = [(str(out), seed, m, tx, size, regime) for m in range(maps)]
    with _mapper(workers, len(jobs)) as imap, make_progress(disable=not progress) as bar:
        task = bar.add_task("radio maps", total=maps * tx)
        for done in imap(_write_map, jobs):
            bar.advance(task, done)
    return Layout(Path(out))


def generate_maps(maps: int, tx: int, size: int = 256, seed: int = 0, workers: int = 1,
                  progress: bool = True, description: str = "radio maps",
                  regime: str = "street") -> list[SynthMap]:
    """The same maps as :func:`synthesize`, in memory."""
    from radiovae.progress import make_progress

    check_regime(regime)
    jobs = [(seed, m, tx, size, regime) for m in range(maps)]
    result = []
    with _mapper(workers, len(jobs)) as imap, make_progress(disable=not progress) as bar:
        task = bar.add_task(description, total=maps * tx)
        for m in imap(_make_map_job, jobs):
            result.append(m)
            bar.advance(task, tx)
    return result


def _make_map_job(job: tuple[int, int, int, int, str]) -> SynthMap:
    return make_map(*job)
