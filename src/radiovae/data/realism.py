"""How a set of radio maps looks, in numbers that tell generated maps from ray-traced ones.

Per map (outdoor pixels only, from the gain PNG, the building mask and the antenna PNG):

    LOS share        pixels in geometric line of sight of the transmitter (exact, on the grid)
    lit share        pixels above the floor (gray > 0)
    edge drop        median gain step (dB) across the shadow boundary: 4-neighbour pairs of
                     which one pixel is in line of sight and the other is not (sharp edges: a
                     large step; a smooth model: ~0)
    anisotropy       share of the gain's gradient energy that runs across the direction to the
                     transmitter (tangential): a smooth radial falloff has ~0, street canyons lit
                     along their axes between dark blocks make it high, noise gives ~0.5
    mean dB          mean gain over the pixels above the floor
    shadow unlit     share of the outdoor pixels out of line of sight that sit at the floor
    shadow speckle   spread (dB, standard deviation) of a lit pixel out of line of sight about
                     the median of its lit 8 neighbours: a tracer's few rays per shadow cell make
                     it large, a smooth model small

A set's figure is the median over its maps; ``radiovae data stats A B`` prints them side by
side with the gain histograms' overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radiovae.data.grayscale import gray_to_db
from radiovae.data.layout import read_png
from radiovae.data.summary import Simulation, _spread

FEATURE_SAMPLE_LIMIT = 200  # maps per set (evenly spaced)
DB_PER_GRAY = float(gray_to_db(1) - gray_to_db(0))


@dataclass
class SetFeatures:
    name: str
    maps: int
    los_share: float
    lit_share: float
    edge_drop_db: float
    anisotropy: float
    mean_db: float
    shadow_unlit: float
    shadow_speckle_db: float
    histogram: np.ndarray  # share of outdoor pixels per gray level 0..255


def shadow_texture(db: np.ndarray, lit: np.ndarray, shadow: np.ndarray) -> tuple[float, float]:
    """(unlit share, speckle dB) of the ``shadow`` pixels: ``db`` is the gain, ``lit`` the
    pixels above the floor (the module's docstring; the calibration fits the ray sampling's
    parameters to these)."""
    if not shadow.any():
        return float("nan"), float("nan")
    n = db.shape[0]
    pad = np.pad(np.where(lit, db, np.nan).astype(np.float64), 1, constant_values=np.nan)
    around = np.stack([pad[1 + dy:1 + dy + n, 1 + dx:1 + dx + n]
                       for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx])
    has = np.isfinite(around).any(axis=0) & lit & shadow
    if not has.any():
        return float((~lit[shadow]).mean()), float("nan")
    with np.errstate(all="ignore"):
        med = np.nanmedian(around[:, has], axis=0)
    return float((~lit[shadow]).mean()), float(np.std(db[has] - med))


def map_features(gray: np.ndarray, buildings: np.ndarray, ty: int, tx: int) -> dict[str, float]:
    """The features of one map (see the module's docstring)."""
    from radiovae.data import kernels

    free = ~buildings
    free[ty, tx] = True
    los = kernels.line_of_sight(~free, ty, tx)
    g = gray.astype(np.float64) * DB_PER_GRAY
    drops = []
    for a, b in (((slice(None), slice(1, None)), (slice(None), slice(None, -1))),
                 ((slice(1, None), slice(None)), (slice(None, -1), slice(None)))):
        pair = free[a] & free[b]
        lit_a = pair & los[a] & ~los[b]
        lit_b = pair & los[b] & ~los[a]
        drops.append(g[a][lit_a] - g[b][lit_a])
        drops.append(g[b][lit_b] - g[a][lit_b])
    drops = np.concatenate(drops)
    gy = np.where(free[1:, :] & free[:-1, :], np.diff(g, axis=0), 0.0)[:, :-1]
    gx = np.where(free[:, 1:] & free[:, :-1], np.diff(g, axis=1), 0.0)[:-1, :]
    yy, xx = np.mgrid[:gy.shape[0], :gy.shape[1]]
    ry, rx = yy + 0.5 - ty, xx + 0.5 - tx  # between the pixels the differences span
    r = np.hypot(ry, rx)
    far = r > 2.0
    ry, rx = ry / np.maximum(r, 1e-9), rx / np.maximum(r, 1e-9)
    tangential = ((gx * ry - gy * rx) ** 2)[far].sum()
    radial = ((gy * ry + gx * rx) ** 2)[far].sum()
    outdoor = gray[free]
    lit = outdoor > 0
    unlit, speckle = shadow_texture(g, (gray > 0) & free, free & ~los)
    return {
        "los_share": float(los[free].mean()),
        "lit_share": float(lit.mean()),
        "edge_drop_db": float(np.median(drops)) if drops.size else float("nan"),
        "anisotropy": float(tangential / max(tangential + radial, 1e-12)),
        "mean_db": float(gray_to_db(outdoor[lit]).mean()) if lit.any() else float("nan"),
        "shadow_unlit": unlit,
        "shadow_speckle_db": speckle,
    }


def set_features(sim: Simulation, name: str, limit: int = FEATURE_SAMPLE_LIMIT,
                 progress=None, task=None) -> SetFeatures:
    """The median features of (up to ``limit``) maps of one simulation."""
    layout = sim.layout
    rows, hist = [], np.zeros(256)
    chosen = _spread(sim.samples, limit)
    for m, k in chosen:
        gray = read_png(layout.gain(sim.name, m, k))
        bpath, apath = layout.buildings(m), layout.antenna(m, k)
        buildings = read_png(bpath) > 0 if bpath.is_file() else np.zeros(gray.shape, bool)
        if apath.is_file():
            ty, tx = np.unravel_index(np.argmax(read_png(apath)), gray.shape)
        else:  # no antenna PNG: the brightest pixel
            ty, tx = np.unravel_index(np.argmax(gray), gray.shape)
        if buildings.shape == gray.shape:
            rows.append(map_features(gray, buildings, int(ty), int(tx)))
            hist += np.bincount(gray[~buildings], minlength=256)
        if progress is not None:
            progress.advance(task)
    med = {key: float(np.nanmedian([r[key] for r in rows])) if rows else float("nan")
           for key in ("los_share", "lit_share", "edge_drop_db", "anisotropy", "mean_db",
                       "shadow_unlit", "shadow_speckle_db")}
    return SetFeatures(name=name, maps=len(rows), histogram=hist / max(hist.sum(), 1), **med)


def histogram_overlap(a: SetFeatures, b: SetFeatures) -> float:
    """Shared mass of two gain histograms (1 = identical), on 2 dB bins."""
    bins = np.arange(0, 257, 5)
    ha = np.add.reduceat(a.histogram, bins[:-1])
    hb = np.add.reduceat(b.histogram, bins[:-1])
    return float(np.minimum(ha, hb).sum())
