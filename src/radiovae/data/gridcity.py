"""The grid-block city maps of radiovae's first generator, kept as the ``grid`` regime.

Grid-block cities with smooth gain (line of sight with a two-slope law, penetration, a max-plus
diffraction around corners, log-normal shadowing). Less like ray-traced maps than the
physics-based ``street`` / ``above_roof`` regimes (radiovae.data.propagation), but the demo's
small VAE reaches its held-out 30 dB on these in its 10-minute budget and does not yet on the
physics-based maps (23.3-23.5 dB measured): the demo stays here until it does.

Everything is a pure function of (seed, map index).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from radiovae.data.grayscale import db_to_gray

CITY_M = 256.0  # city extent in metres (RadioMapSeer: 256 m at 1 m per pixel)

CARRIER_HZ = 3.5e9
FSPL_1M_DB = 20 * math.log10(4 * math.pi * CARRIER_HZ / 299_792_458.0)  # 43.3 dB
BREAKPOINT_M = 4 * 1.5 * 1.5 * CARRIER_HZ / 299_792_458.0  # Tx and Rx at 1.5 m: ~105 m
FAR_EXPONENT = 3.5
ENTRY_LOSS_DB = 12.0  # outer walls of the first building crossed
ENTRY_SCALE_M = 3.0  # the entry loss builds up over the first few metres (grazing rays pay less)
INSIDE_LOSS_DB_PER_M = 0.75
DIFFRACTION_CELL_M = 4.0
DETOUR_LOSS_DB_PER_M = 0.5  # extra loss per metre travelled around a corner / down a street
CORNER_LOSS_DB = 5.0
DIFFRACTION_ROUNDS = 3  # street paths with up to 5 turns
SHADOWING_DB = 2.5
DB_DEAD = -300.0  # "no signal" inside buildings on the diffraction grid


# -- city layout ------------------------------------------------------------------------------

def _band_cuts(rng: np.random.Generator, extent: float) -> list[tuple[float, float]]:
    """Blocks along one axis: (start, end) in metres, separated by streets of varied width."""
    blocks, pos = [], -rng.uniform(0.0, 30.0)
    while pos < extent:
        length = rng.uniform(24.0, 75.0)
        blocks.append((pos, pos + length))
        pos += length + rng.choice([7.0, 9.0, 11.0, 13.0, 16.0, 22.0], p=[.2, .25, .2, .15, .12, .08])
    return blocks


def _split(rng: np.random.Generator, lo: float, hi: float, lot: float) -> list[tuple[float, float]]:
    n = max(1, int(rng.integers(1, 2 + int((hi - lo) // lot))))
    cuts = np.sort(rng.uniform(lo, hi, n - 1)) if n > 1 else np.empty(0)
    edges = [lo, *cuts.tolist(), hi]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b - a > 5.0]


def city_layout(rng: np.random.Generator, size: int) -> np.ndarray:
    """Building mask (size x size, bool) of a procedural city: a jittered street grid whose blocks
    hold buildings of varied footprint (lots, setbacks, L-shapes, courtyards) and some open
    squares; density varies from map to map."""
    mpp = CITY_M / size
    mask = np.zeros((size, size), dtype=bool)

    def fill(y0: float, y1: float, x0: float, x1: float, value: bool = True) -> None:
        r0, r1 = max(0, round(y0 / mpp)), min(size, round(y1 / mpp))
        c0, c1 = max(0, round(x0 / mpp)), min(size, round(x1 / mpp))
        if r1 > r0 and c1 > c0:
            mask[r0:r1, c0:c1] = value

    built = rng.uniform(0.55, 0.95)  # share of lots that hold a building
    lot = rng.uniform(14.0, 30.0)  # typical lot size
    setback = rng.uniform(0.0, 4.0)
    p_square = rng.uniform(0.03, 0.15)
    x_cuts = _band_cuts(rng, CITY_M)
    for y0, y1 in _band_cuts(rng, CITY_M):
        row_cuts = _band_cuts(rng, CITY_M) if rng.random() < 0.35 else x_cuts  # jittered grid
        for x0, x1 in row_cuts:
            u = rng.random()
            if u < p_square:
                continue  # open square / park
            if u < p_square + 0.08 and (y1 - y0) > 30 and (x1 - x0) > 30:  # courtyard block
                fill(y0, y1, x0, x1)
                w = rng.uniform(8.0, 12.0)
                fill(y0 + w, y1 - w, x0 + w, x1 - w, False)
                continue
            for ly0, ly1 in _split(rng, y0, y1, lot):
                for lx0, lx1 in _split(rng, x0, x1, lot):
                    if rng.random() > built:
                        continue
                    s = rng.uniform(0.0, setback, 4)
                    by0, by1, bx0, bx1 = ly0 + s[0], ly1 - s[1], lx0 + s[2], lx1 - s[3]
                    fill(by0, by1, bx0, bx1)
                    if rng.random() < 0.2:  # L-shape: cut a corner away
                        cy = rng.uniform(0.3, 0.6) * (by1 - by0)
                        cx = rng.uniform(0.3, 0.6) * (bx1 - bx0)
                        ys = (by0, by0 + cy) if rng.random() < 0.5 else (by1 - cy, by1)
                        xs = (bx0, bx0 + cx) if rng.random() < 0.5 else (bx1 - cx, bx1)
                        fill(*ys, *xs, False)
    return mask


def place_transmitters(rng: np.random.Generator, buildings: np.ndarray, k: int) -> np.ndarray:
    """k distinct (row, col) positions outside buildings, at least 2 pixels from the border."""
    n = buildings.shape[0]
    free = ~buildings
    free[:2], free[-2:], free[:, :2], free[:, -2:] = False, False, False, False
    candidates = np.flatnonzero(free)
    if candidates.size < k:
        candidates = np.flatnonzero(~buildings)
    chosen = rng.choice(candidates, size=k, replace=candidates.size < k)
    return np.stack(np.divmod(chosen, n), axis=1)


# -- geometry tables (per process, per size) --------------------------------------------------

@dataclass(frozen=True)
class _Upsample:
    """Separable linear interpolation from n_in cell centres to n_out pixel centres (gathers, not
    BLAS: a matrix product would spin up BLAS threads that fight the worker processes)."""

    lo: np.ndarray
    hi: np.ndarray
    w: np.ndarray

    @classmethod
    def make(cls, n_out: int, n_in: int) -> _Upsample:
        pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(np.intp)
        return cls(lo, np.minimum(lo + 1, n_in - 1), (pos - lo).astype(np.float32))

    def __call__(self, a: np.ndarray) -> np.ndarray:
        w = self.w[:, None]
        a = a[self.lo] + (a[self.hi] - a[self.lo]) * w
        return a[:, self.lo] + (a[:, self.hi] - a[:, self.lo]) * w.T


def _edges(n: int, parts: int) -> np.ndarray:
    return np.linspace(0, n, parts + 1).round().astype(int)[:-1]


@dataclass(frozen=True)
class _Tables:
    size: int
    path_gain: np.ndarray  # (2n-1, 2n-1) line-of-sight gain (dB) for every offset from the Tx
    polar_size: int  # the penetration grid (n or n/2)
    polar_step_m: float
    polar_offsets: np.ndarray  # (angles, radii) flat offsets into the padded polar-grid mask
    polar_pad: int
    polar_lookup: np.ndarray  # (2p-1, 2p-1) flat (angle, radius) index for every offset
    coarse: int  # diffraction grid
    up_coarse: _Upsample  # coarse -> n
    shadow: int
    up_shadow: _Upsample  # shadow -> n


@lru_cache(maxsize=4)
def _tables(size: int) -> _Tables:
    mpp = CITY_M / size
    off = np.arange(-(size - 1), size, dtype=np.float32)
    dist = np.maximum(np.hypot(off[:, None], off[None, :]) * mpp, 1.0)
    loss = np.where(dist <= BREAKPOINT_M, FSPL_1M_DB + 20 * np.log10(dist),
                    FSPL_1M_DB + 20 * math.log10(BREAKPOINT_M)
                    + 10 * FAR_EXPONENT * np.log10(np.maximum(dist, BREAKPOINT_M) / BREAKPOINT_M))
    # penetration on a grid of at most 128 cells (2 m at 256 px): cheap and fine enough for shadows
    p = min(size, 128)
    radii = int(math.ceil(math.sqrt(2) * p)) + 1
    angles = int(math.ceil(2 * math.pi * radii / 1.5))
    theta = np.arange(angles) * (2 * math.pi / angles)
    r = np.arange(radii)
    oy = np.rint(np.sin(theta)[:, None] * r[None, :]).astype(np.int64)
    ox = np.rint(np.cos(theta)[:, None] * r[None, :]).astype(np.int64)
    pad = radii + 1
    width = p + 2 * pad
    offp = np.arange(-(p - 1), p)
    a = np.rint(np.arctan2(offp[:, None], offp[None, :]) / (2 * math.pi) * angles).astype(np.int64) % angles
    k = np.minimum(np.rint(np.hypot(offp[:, None], offp[None, :])).astype(np.int64), radii - 1)
    coarse = max(1, round(CITY_M / DIFFRACTION_CELL_M)) if size >= 64 else size
    shadow = 8
    return _Tables(
        size=size, path_gain=(-loss).astype(np.float32), polar_size=p,
        polar_step_m=CITY_M / p, polar_offsets=(oy * width + ox).astype(np.int64), polar_pad=pad,
        polar_lookup=(a * radii + k).astype(np.int64), coarse=coarse,
        up_coarse=_Upsample.make(size, coarse), shadow=shadow, up_shadow=_Upsample.make(size, shadow),
    )


def _block_reduce(x: np.ndarray, parts: int, ufunc: np.ufunc) -> np.ndarray:
    """Reduce (sum / max) an n x n array over parts x parts blocks of (nearly) equal size."""
    n = x.shape[0]
    if n % parts == 0:  # the common case: combine strided slices (fast for small blocks)
        f = n // parts
        rows = x[0::f]
        for i in range(1, f):
            rows = ufunc(rows, x[i::f])
        out = rows[:, 0::f]
        for j in range(1, f):
            out = ufunc(out, rows[:, j::f])
        return out
    e = _edges(n, parts)
    return ufunc.reduceat(ufunc.reduceat(x, e, axis=0), e, axis=1)


def _block_mean(x: np.ndarray, parts: int) -> np.ndarray:
    n = x.shape[0]
    counts = np.diff(np.append(_edges(n, parts), n)).astype(np.float32)
    return _block_reduce(x.astype(np.float32), parts, np.add) / np.outer(counts, counts)


# -- the gain model ---------------------------------------------------------------------------

class CityMap:
    """One city, ready to compute radio maps for any number of transmitters."""

    def __init__(self, buildings: np.ndarray):
        n = buildings.shape[0]
        self.t = t = _tables(n)
        self.buildings = buildings
        p = t.polar_size
        frac = _block_mean(buildings, p)
        padded = np.zeros((p + 2 * t.polar_pad,) * 2, dtype=np.float32)
        padded[t.polar_pad:t.polar_pad + p, t.polar_pad:t.polar_pad + p] = frac
        self.polar_mask = padded.ravel()
        c = t.coarse
        self.coarse_free = _block_mean(buildings, c) < 0.5
        step = DETOUR_LOSS_DB_PER_M * CITY_M / c
        self._sweep_offsets = {}
        for axis in (1, 0):
            for flip in (False, True):
                blocked = ~self.coarse_free
                blocked = np.flip(blocked, axis) if flip else blocked
                idx = np.arange(c).reshape((1, c) if axis == 1 else (c, 1))
                self._sweep_offsets[(axis, flip)] = (
                    step * idx + 1e4 * np.cumsum(blocked, axis=axis)).astype(np.float64)

    def penetration_db(self, ty: int, tx: int) -> np.ndarray:
        """Loss (dB, >= 0) from buildings crossed on the straight path, at the polar grid's size."""
        t = self.t
        p = t.polar_size
        py, px = ty * p // t.size, tx * p // t.size
        width = p + 2 * t.polar_pad
        along = self.polar_mask[(py + t.polar_pad) * width + (px + t.polar_pad) + t.polar_offsets]
        along[:, 0] = 0  # the transmitter's own cell (it may hold a wall beside it) shadows nothing
        lookup = t.polar_lookup[p - 1 - py:2 * p - 1 - py, p - 1 - px:2 * p - 1 - px]
        metres = np.cumsum(along, axis=1).ravel()[lookup] * t.polar_step_m
        return (ENTRY_LOSS_DB / ENTRY_SCALE_M) * np.minimum(metres, ENTRY_SCALE_M) \
            + INSIDE_LOSS_DB_PER_M * metres

    def diffracted_db(self, field: np.ndarray) -> np.ndarray:
        """Max-plus propagation of ``field`` (dB, coarse grid) through free space: every cell gets
        the best ``field[j] - detour loss * |path|`` over street paths with up to
        2 * DIFFRACTION_ROUNDS - 1 turns. Each straight run is one vectorised sweep:
        max_{j<=i} (g_j - a (i - j) - B (#building cells in (j, i])) is a running maximum of
        g_j + a j + B c_j minus a i + B c_i, with B so large that no path crosses a building."""
        g = np.where(self.coarse_free, field, DB_DEAD).astype(np.float64)
        for _ in range(DIFFRACTION_ROUNDS):
            for axis in (1, 0):
                for flip in (False, True):
                    offset = self._sweep_offsets[(axis, flip)]
                    h = np.flip(g, axis) if flip else g
                    h = np.maximum(h, np.maximum.accumulate(h + offset, axis=axis) - offset)
                    g = np.flip(h, axis) if flip else h
            g = np.where(self.coarse_free, g, DB_DEAD)
        # give building cells their best neighbour's value so that interpolating onto the fine
        # grid does not darken the streets beside buildings (building pixels are 0 anyway)
        p = np.pad(g, 1, constant_values=DB_DEAD)
        n = g.shape[0]
        best = np.max([p[1 + dy:1 + dy + n, 1 + dx:1 + dx + n]
                       for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
        return np.where(self.coarse_free, g, best).astype(np.float32)

    def gain_db(self, ty: int, tx: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """Path gain in dB (float32, size x size) of a transmitter at pixel (ty, tx)."""
        t = self.t
        n = t.size
        los = t.path_gain[n - 1 - ty:2 * n - 1 - ty, n - 1 - tx:2 * n - 1 - tx]
        pen = self.penetration_db(ty, tx)
        if t.polar_size != n:  # nearest upsampling of the penetration grid
            idx = np.arange(n) * t.polar_size // n
            pen = pen[idx][:, idx]
        direct = los - pen
        coarse = _block_reduce(np.where(self.buildings, DB_DEAD, direct), t.coarse, np.maximum)
        around = t.up_coarse(self.diffracted_db(coarse)) - CORNER_LOSS_DB
        gain = np.maximum(direct, around)
        if rng is not None and SHADOWING_DB > 0:
            noise = rng.standard_normal((t.shadow, t.shadow)).astype(np.float32) * SHADOWING_DB
            gain += t.up_shadow(noise)
        return gain


def make_grid_map(seed: int, index: int, tx_per_map: int, size: int = 256
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(buildings, tx, gains) of map ``index`` of the family ``seed``."""
    rng = np.random.default_rng([seed, index])
    buildings = city_layout(rng, size)
    tx = place_transmitters(rng, buildings, tx_per_map)
    city = CityMap(buildings)
    gains = np.empty((tx_per_map, size, size), dtype=np.uint8)
    for k, (ty, tx_) in enumerate(tx):
        gray = db_to_gray(city.gain_db(int(ty), int(tx_), rng))
        gray[buildings] = 0
        gray[int(ty), int(tx_)] = 255
        gains[k] = gray
    return buildings, tx, gains
