"""Procedural cities like real ones: street networks, blocks, lots and buildings, as height maps.

A city is built in metres (RadioMapSeer's 256 m square, any pixel size) from fields evaluated at
the pixel centres, so it needs no polygon clipping and costs a few milliseconds:

    street network   rotated grid, bent grid (two grids meeting along an avenue), radial (rings
                     and spokes) or irregular (Voronoi cells); every street has its own width.
                     Each gives per pixel a block id, the distance to the street edge ("inset",
                     negative in the street) and the block's frame (lot coordinates u, v).
    blocks           perimeter blocks (a ring of attached buildings around a courtyard),
                     detached lots (setbacks, gaps, L-shapes), towers on large lots, and open
                     squares / parks; the mix is drawn per map.
    heights          per lot, in storeys: taller than the 1.5 m receivers and street-level
                     transmitters (RadioMapSeer's regime), towers much taller.

Every random choice per block or lot comes from a hash of (map seed, block, lot), so the city is
a pure function of its rng draw and the pixel grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

CITY_M = 256.0  # RadioMapSeer: 256 m at 1 m per pixel
STOREY_M = 3.2
NETWORKS = ("grid", "bent", "radial", "voronoi")
NETWORK_P = (0.25, 0.25, 0.15, 0.35)
STREET_WIDTHS = np.array([6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 26.0])
STREET_WIDTH_P = np.array([0.14, 0.22, 0.22, 0.17, 0.12, 0.08, 0.05])


@dataclass(frozen=True)
class City:
    """A city on an n x n pixel grid: building heights in metres (0 = open ground)."""

    heights: np.ndarray  # (n, n) float32
    network: str

    @property
    def buildings(self) -> np.ndarray:
        return self.heights > 0


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: well-spread 64-bit hashes of integer arrays (wrapping arithmetic)."""
    x = np.asarray(x).astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _uniform(key: np.ndarray, salt: int) -> np.ndarray:
    """A uniform [0, 1) per key (an integer array), different for each salt."""
    with np.errstate(over="ignore"):
        h = _mix(key.astype(np.int64).view(np.uint64) + np.uint64(salt) * np.uint64(0x9E3779B97F4A7C15))
    return (h >> np.uint64(11)).astype(np.float64) / float(2 ** 53)


def _cuts(rng: np.random.Generator, lo: float, hi: float, spacing: tuple[float, float]):
    """Street centre lines across [lo, hi] with their widths, spacing drawn per block."""
    pos, out = lo - rng.uniform(0, spacing[1]), []
    while pos < hi + spacing[1]:
        out.append(pos)
        pos += rng.uniform(*spacing)
    pos = np.array(out)
    widths = rng.choice(STREET_WIDTHS, size=len(pos), p=STREET_WIDTH_P)
    return pos, widths


def _axis_inset(coord: np.ndarray, pos: np.ndarray, widths: np.ndarray):
    """Index of the band between lines and the distance to the nearer street edge."""
    k = np.clip(np.searchsorted(pos, coord), 1, len(pos) - 1)
    left = coord - pos[k - 1] - widths[k - 1] / 2
    right = pos[k] - coord - widths[k] / 2
    return k, np.minimum(left, right), left


def _grid(rng, x, y, angle: float, spacing):
    c, s = math.cos(angle), math.sin(angle)
    u, v = x * c + y * s, -x * s + y * c
    half = CITY_M * 1.5
    pu, wu = _cuts(rng, -half, half, spacing)
    pv, wv = _cuts(rng, -half, half, (spacing[0] * 0.7, spacing[1] * 1.6))  # oblong blocks
    ku, iu, lu = _axis_inset(u, pu, wu)
    kv, iv, lv = _axis_inset(v, pv, wv)
    return ku * 4096 + kv, np.minimum(iu, iv), lu, lv


def street_network(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, kind: str):
    """(block id, inset to the street edge in m, lot frame u, lot frame v) per pixel."""
    spacing = (rng.uniform(28, 45), rng.uniform(55, 95))
    if kind == "grid":
        return _grid(rng, x, y, rng.uniform(0, math.pi / 2), spacing)
    if kind == "bent":
        a = rng.uniform(0, math.pi)
        px, py = rng.uniform(0.3, 0.7, 2) * CITY_M
        side = ((x - px) * math.sin(a) - (y - py) * math.cos(a))  # signed distance to the avenue
        a0 = rng.uniform(0, math.pi / 2)
        b1, i1, u1, v1 = _grid(rng, x, y, a0, spacing)
        b2, i2, u2, v2 = _grid(rng, x, y, a0 + rng.uniform(0.25, 0.8), spacing)
        left = side < 0
        width = rng.choice([14.0, 18.0, 24.0, 30.0])
        inset = np.minimum(np.where(left, i1, i2), np.abs(side) - width / 2)
        return (np.where(left, b1, b2 + (1 << 24)), inset, np.where(left, u1, u2),
                np.where(left, v1, v2))
    if kind == "radial":
        cx, cy = rng.uniform(0.2, 0.8, 2) * CITY_M
        r = np.hypot(x - cx, y - cy)
        phi = np.arctan2(y - cy, x - cx)
        rings, rw = _cuts(rng, 0.0, CITY_M * 1.6, spacing)
        rings[0] = 0.0
        kr, ir, _ = _axis_inset(r, rings, rw)
        spokes_n = int(rng.integers(6, 15))
        spokes = np.sort(rng.uniform(-math.pi, math.pi, spokes_n))
        sw = rng.choice(STREET_WIDTHS, size=spokes_n, p=STREET_WIDTH_P)
        d = np.abs(((phi[..., None] - spokes) + math.pi) % (2 * math.pi) - math.pi)  # (.., spokes)
        near = np.argmin(d, axis=-1)
        dist = r * np.sin(np.minimum(np.take_along_axis(d, near[..., None], -1)[..., 0], math.pi / 2))
        sector = np.searchsorted(spokes, phi) % spokes_n
        inset = np.minimum(ir, dist - sw[near] / 2)
        return kr * 4096 + sector, inset, r, r * phi
    # irregular: Voronoi cells of jittered seeds over an extended square, streets on the bisectors
    area = rng.uniform(*spacing) * rng.uniform(*spacing)
    pad = 80.0
    count = int((CITY_M + 2 * pad) ** 2 / area)
    seeds = rng.uniform(-pad, CITY_M + pad, (count, 2))
    tree = cKDTree(seeds)
    pts = np.stack([x.ravel(), y.ravel()], -1)
    dd, ii = tree.query(pts, k=2)
    s1, s2 = seeds[ii[:, 0]], seeds[ii[:, 1]]
    bis = (dd[:, 1] ** 2 - dd[:, 0] ** 2) / (2 * np.maximum(np.hypot(*(s2 - s1).T), 1e-6))
    lo, hi = np.minimum(ii[:, 0], ii[:, 1]), np.maximum(ii[:, 0], ii[:, 1])
    width = np.interp(_uniform(lo * 65536 + hi, 1 + rng.integers(1 << 30)), np.cumsum(STREET_WIDTH_P),
                      STREET_WIDTHS)  # one width per street (pair of cells)
    _, nb = tree.query(seeds, k=2)
    ang = np.arctan2(*(seeds[nb[:, 1]] - seeds).T[::-1])[ii[:, 0]]  # block frame: toward a neighbour
    rx, ry = pts[:, 0] - s1[:, 0], pts[:, 1] - s1[:, 1]
    u = rx * np.cos(ang) + ry * np.sin(ang)
    v = -rx * np.sin(ang) + ry * np.cos(ang)
    shape = x.shape
    return (ii[:, 0].reshape(shape), (bis - width / 2).reshape(shape), u.reshape(shape),
            v.reshape(shape))


def make_city(rng: np.random.Generator, size: int, network: str | None = None) -> City:
    """A city on a size x size grid (one pixel = 256/size m), its network drawn unless given."""
    kind = network or str(rng.choice(NETWORKS, p=NETWORK_P))
    mpp = CITY_M / size
    coords = (np.arange(size) + 0.5) * mpp
    x, y = np.meshgrid(coords, coords)  # row = y, column = x
    block, inset, u, v = street_network(rng, x, y, kind)
    salt = int(rng.integers(1 << 40))
    block = block.astype(np.int64)

    # per-map style: the mix of block kinds, lot sizes, setbacks, storeys
    p_park = rng.uniform(0.04, 0.16)
    p_perimeter = rng.uniform(0.2, 0.6)
    p_tower = rng.uniform(0.0, 0.12)
    lot_w, lot_d = rng.uniform(10, 24), rng.uniform(12, 30)
    depth = rng.uniform(10, 20)  # perimeter buildings' depth from the street
    front = rng.uniform(0.0, 3.0)  # setback from the street edge
    built = rng.uniform(0.65, 0.95)
    storeys_lo = rng.uniform(2, 5)
    storeys_hi = storeys_lo + rng.uniform(1, 6)

    ub = _uniform(block, salt)
    style = np.select([ub < p_park, ub < p_park + p_tower, ub < p_park + p_tower + p_perimeter],
                      [0, 1, 2], 3)  # 0 park, 1 tower, 2 perimeter, 3 detached
    scale = np.where(style == 1, 2.2, 1.0)
    off_u, off_v = _uniform(block, salt + 1) * lot_w, _uniform(block, salt + 2) * lot_d
    fu, fv = (u + off_u) / (lot_w * scale), (v + off_v) / (lot_d * scale)
    iu, iv = np.floor(fu), np.floor(fv)
    fu, fv = fu - iu, fv - iv
    lot = block * 1_000_003 + (iu.astype(np.int64) * 7919 + iv.astype(np.int64))
    h1, h2, h3 = _uniform(lot, salt + 3), _uniform(lot, salt + 4), _uniform(lot, salt + 5)
    edge = np.minimum(np.minimum(fu, 1 - fu) * lot_w * scale, np.minimum(fv, 1 - fv) * lot_d * scale)
    gap = np.where(h1 < 0.6, 0.0, 1.5 + 3.0 * h2)  # attached or detached neighbours

    inside = inset > front
    perimeter = inside & (inset < front + depth) & ((edge >= gap) | (h1 < 0.8))
    detached = inside & (edge >= np.maximum(gap, 1.5)) & (h3 < built)
    ell = h2 < 0.3  # L-shape: one quadrant of the lot cut away
    cut = ((fu > 0.45 + 0.2 * h1) ^ (h3 > 0.5)) & ((fv > 0.45 + 0.2 * h2) ^ (h1 > 0.3))
    detached &= ~(ell & cut)
    court = (h3 < 0.25) & (edge > gap + 8.0)  # a courtyard in a large lot
    detached &= ~court
    tower = inside & (np.abs(fu - 0.5) < 0.22 + 0.1 * h1) & (np.abs(fv - 0.5) < 0.22 + 0.1 * h2)
    is_built = np.select([style == 0, style == 1, style == 2], [False, tower, perimeter], detached)

    storeys = storeys_lo + (storeys_hi - storeys_lo) * h1
    storeys = np.where(style == 1, 8 + 14 * h2, storeys)
    heights = np.where(is_built, np.maximum(2.0, np.round(storeys)) * STOREY_M, 0.0)
    return City(heights=heights.astype(np.float32), network=kind)


def place_transmitters(rng: np.random.Generator, buildings: np.ndarray, k: int,
                       margin: float = 0.1) -> np.ndarray:
    """k (row, col) positions outdoors, away from the border by ``margin`` of the side."""
    n = buildings.shape[0]
    m = max(1, int(round(margin * n)))
    free = ~buildings
    inner = np.zeros_like(free)
    inner[m:n - m, m:n - m] = True
    candidates = np.flatnonzero(free & inner)
    if candidates.size < k:
        candidates = np.flatnonzero(free)
    if candidates.size == 0:
        candidates = np.array([n // 2 * n + n // 2])
    chosen = rng.choice(candidates, size=k, replace=candidates.size < k)
    return np.stack(np.divmod(chosen, n), axis=1)
