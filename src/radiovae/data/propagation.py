"""Path gain of a transmitter in a city: the physics of RadioMapSeer's regime, fast.

Street level (transmitter and receivers 1.5 m up, among taller buildings), powers summed
incoherently:

    line of sight   exact on the pixel grid (the segment between pixel centres crosses no building
                    cell: sharp shadow edges), two-slope path loss: exponent n1 up to the breakpoint,
                    n2 past it (ground reflection and clutter)
    dominant path   around corners, as WinProp's dominant path model: the shortest taut path
                    from corner to corner (any-angle Dijkstra on a grid of <= 2 m cells, exact
                    per pixel from its last corner), the line of sight's path loss on the
                    unfolded length plus a diffraction loss per corner that grows with the turn
                    angle from 0 at a grazing turn and levels off (corner_db at a right angle,
                    scale corner_deg): continuous across a shadow edge, as the traces are (a
                    separate NLOS exponent, as the DPM's, put a ~20 dB step there, and a fixed
                    loss per corner ~10 dB, that the traces do not have); streets that continue
                    straight past a corner stay lit along their axis
    reflections     specular, off the walls, by launching rays from the transmitter (image
                    sources unfolded), up to three bounces, each losing the concrete wall's
                    Fresnel reflectance at its incidence angle (~8 dB head-on, ~0 at grazing)
                    plus r_db: they keep the street canyons lit and spill into side streets
    area mean       the summed power averaged over outdoor cells (smooth_px), as a tracer's radio
                    map holds each cell's mean power
    ray sampling    a tracer estimates a cell's power from the rays that reach it, and few reach
                    the shadows: the corner and reflected power of a cell is drawn as an unbiased
                    Monte-Carlo estimate from k ~ Poisson(lambda) rays, lambda growing with the
                    power (ray_level_db: one ray expected; ray_beta: the slope), each ray's power
                    spread log-normally (ray_spread_db). Dim shadow cells then read either the
                    floor (no ray) or brighter than their mean, with speckle between neighbours:
                    the traces' texture (median over the calibration traces: 43 % of the
                    shadowed outdoor cells unlit, 7.9 dB between a lit shadow cell and its lit
                    neighbours' median, in the clipped dB of a gray map). The line of sight is not sampled (the traces' lit
                    line-of-sight cells already match the smooth model to ~0.9 dB).

Above the roofs (an option): the transmitter at roof level + tx_above_roof_m, and the direct path
over the buildings pays the knife-edge loss of its dominant edge (Fresnel nu of the highest
obstacle, ITU-R P.526), which fills the shadows; corner paths and reflections still add.

Every parameter is drawn per map from ranges calibrated against ray tracing
(radiovae/data/calibrated.json, written by scripts/calibrate_generator.py).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources

import numpy as np
from scipy.ndimage import gaussian_filter

from radiovae.data import kernels

CARRIER_HZ = 3.5e9
WAVELENGTH_M = 299_792_458.0 / CARRIER_HZ
FSPL_1M_DB = 20 * math.log10(4 * math.pi / WAVELENGTH_M)  # 43.3 dB
RX_HEIGHT_M = 1.5
TX_STREET_HEIGHT_M = 3.0  # a street-level antenna; traced maps need it off the 1.5 m receiver plane
DIFFRACTION_CELL_M = 2.0  # the corner-path grid: finer than any street
RAYS_PER_PIXEL = 12  # reflection rays = 12 x side: < 1 pixel apart 500 pixels out
# ITU-R P.2040 concrete at 3.5 GHz (Sionna RT's "concrete", which the calibration traces use):
# eps_r = 5.24, sigma = 0.0462 f_GHz^0.7822 S/m -> eps'' = sigma / (2 pi f eps0)
CONCRETE_EPS = (5.24, 0.0462 * (CARRIER_HZ / 1e9) ** 0.7822 / (2 * math.pi * CARRIER_HZ * 8.854e-12))
BOUNCES = 3  # reflection orders (the calibration traces go to depth 4)
WALL_SIGMA_M = 2.0  # wall normals from the gradient of the mask blurred this much (>= 0.6 px)


def wall_gradient(sigma: float) -> float:
    """Blurred-mask gradient above which a building cell is a straight wall: on a straight wall's
    boundary cell it is phi(0.5 / sigma) / sigma; at a corner it is less."""
    return 0.75 * math.exp(-0.125 / sigma ** 2) / math.sqrt(2 * math.pi) / sigma

REGIMES = ("street", "above_roof")
CALIBRATED = "calibrated.json"


@dataclass(frozen=True)
class Params:
    """One map's propagation parameters (drawn from the calibrated ranges)."""

    n1: float = 2.0  # path-loss exponent before the breakpoint
    n2: float = 3.5  # ... after it
    breakpoint_m: float = 105.0
    corner_db: float = 15.0  # diffraction loss of a right-angle turn round a corner (dB)
    corner_deg: float = 45.0  # ... the turn angle over which it grows (0 dB at a grazing turn)
    r_db: float = 2.0  # dB lost per reflection, besides the wall's Fresnel reflectance
    offset_db: float = 0.0  # antenna / system offset
    shadowing_db: float = 1.0  # log-normal shadowing, correlated over ~30 m
    smooth_px: float = 1.0  # the traced maps' power per cell is an area mean: the power is
                            # smoothed over this many cells (Gaussian sigma, outdoor cells only)
    tx_above_roof_m: float = 3.0  # above-roof regime only
    ray_level_db: float = -math.inf  # the corner / reflected gain (dB) at which a cell expects
                                     # one ray (-inf: not sampled, the smooth mean)
    ray_beta: float = 1.0            # rays per cell grow as (power / that level) ** ray_beta
    ray_spread_db: float = 0.0       # log-normal spread of one ray's power (dB)
    knife_scale: float = 1.0  # ... scale of the knife-edge loss


@lru_cache(maxsize=1)
def calibrated() -> dict:
    """The shipped ranges per regime: {"street": {"n1": [lo, hi], ...}, "above_roof": {...}}."""
    text = resources.files("radiovae.data").joinpath(CALIBRATED).read_text()
    return json.loads(text)


def draw_params(rng: np.random.Generator, regime: str = "street") -> Params:
    """A map's parameters, each uniform in its calibrated range."""
    ranges = calibrated()["regimes"][regime]["ranges"]
    values = {}
    for f in fields(Params):
        lo, hi = ranges.get(f.name, (f.default, f.default))
        values[f.name] = float(rng.uniform(lo, hi)) if hi > lo else float(lo)
    return Params(**values)


def path_loss_db(dist_m: np.ndarray, p: Params) -> np.ndarray:
    """Two-slope path loss (dB) at a (3-D or unfolded) distance in metres."""
    d = np.maximum(dist_m, 1.0)
    near = FSPL_1M_DB + 10 * p.n1 * np.log10(np.minimum(d, p.breakpoint_m))
    return near + 10 * p.n2 * np.log10(np.maximum(d, p.breakpoint_m) / p.breakpoint_m) + p.offset_db


def knife_edge_db(nu: np.ndarray) -> np.ndarray:
    """ITU-R P.526 single knife-edge loss J(nu), 0 below nu = -0.78."""
    v = np.maximum(nu, -0.78)
    j = 6.9 + 20 * np.log10(np.sqrt((v - 0.1) ** 2 + 1) + v - 0.1)
    return np.where(nu > -0.78, j, 0.0)


@contextlib.contextmanager
def stage(timings: dict[str, float] | None, name: str) -> Iterator[None]:
    """Add the block's CPU time to ``timings[name]`` (benchmarks/datagen.py's stage shares:
    CPU time, since on a shared machine wall time also counts the other processes' turns)."""
    if timings is None:
        yield
        return
    t = time.process_time()
    yield
    timings[name] = timings.get(name, 0.0) + time.process_time() - t


class Scene:
    """One city's geometry, ready for any number of transmitters (tables shared between them)."""

    def __init__(self, heights: np.ndarray, cell_m: float,
                 timings: dict[str, float] | None = None):
        self.timings = timings
        self.heights = heights.astype(np.float32)
        self.blocked = heights > 0
        self._free = (~self.blocked).astype(np.float32)
        self._outdoor_weight: dict[float, np.ndarray] = {}
        self.n = heights.shape[0]
        self.cell_m = cell_m
        sigma = max(0.6, WALL_SIGMA_M / cell_m)
        smooth = gaussian_filter(self.blocked.astype(np.float32), sigma)
        gy, gx = np.gradient(smooth)
        norm = np.hypot(gy, gx)
        # rays reflect only off straight walls: at corners the smoothed normal is meaningless
        # (there the wall diffracts, which the corner paths carry)
        ok = norm > wall_gradient(sigma)
        self.normal_y = np.where(ok, -gy / np.where(ok, norm, 1), 0).astype(np.float64)
        self.normal_x = np.where(ok, -gx / np.where(ok, norm, 1), 0).astype(np.float64)
        self.f = max(1, int(round(DIFFRACTION_CELL_M / cell_m)))
        while self.n % self.f:
            self.f -= 1
        c = self.n // self.f
        self.coarse_blocked = self.blocked.reshape(c, self.f, c, self.f).mean((1, 3)) >= 0.5
        self.coarse_heights = self.heights.reshape(c, self.f, c, self.f).max((1, 3))

    def distance_m(self, ty: int, tx: int) -> np.ndarray:
        idx = np.arange(self.n) + 0.5
        return np.hypot(idx[:, None] - (ty + 0.5), idx[None, :] - (tx + 0.5)) * self.cell_m

    def components(self, ty: int, tx: int, p: Params, regime: str = "street",
                   bounces: int = BOUNCES) -> dict[str, np.ndarray]:
        """Each mechanism's gain in dB (size x size, -inf where it brings nothing) and the
        line-of-sight mask: {"los", "direct", "corner", "reflected", "over_roof"}."""
        blocked = self.blocked.copy()
        blocked[ty, tx] = False
        with stage(self.timings, "line of sight"):
            los = kernels.line_of_sight(blocked, ty, tx)
            dist = self.distance_m(ty, tx)
            out = {"los": los, "direct": np.where(los, -path_loss_db(dist, p), -np.inf)}
        with stage(self.timings, "corner paths"):
            out["corner"] = self._corners(ty, tx, p, los, blocked)
        with stage(self.timings, "reflections"):
            out["reflected"] = self._reflections(ty, tx, p, blocked, bounces)
        if regime == "above_roof":
            with stage(self.timings, "over roof"):
                out["over_roof"] = self._over_roof(ty, tx, p, los, dist)
                out["direct"] = np.full((self.n, self.n), -np.inf)  # the over-roof path has it
        return out

    def _corners(self, ty: int, tx: int, p: Params, los: np.ndarray,
                 blocked: np.ndarray) -> np.ndarray:
        """Dominant corner paths on the coarse grid, then exact per pixel from the last corner."""
        f, cm = self.f, self.cell_m
        cb = self.coarse_blocked.copy()
        cb[ty // f, tx // f] = False
        sy, sx = (ty + 0.5) / f, (tx + 0.5) / f
        g, par, turn, diry, dirx = kernels.corner_paths(cb, sy, sx, p.corner_db, p.corner_deg)
        return kernels.corner_gain(par, g, turn, diry, dirx, los, blocked, f, ty, tx,
                                   p.corner_db, p.corner_deg, p.n1, p.n2, p.breakpoint_m,
                                   p.offset_db, cm, FSPL_1M_DB)

    def _reflections(self, ty: int, tx: int, p: Params, blocked: np.ndarray,
                     bounces: int) -> np.ndarray:
        n, cm = self.n, self.cell_m
        if not bounces:
            return np.full((n, n), -np.inf)
        power = kernels.reflections(blocked, self.normal_y, self.normal_x, ty, tx,
                                    RAYS_PER_PIXEL * n, bounces, cm, FSPL_1M_DB, p.n1, p.n2,
                                    p.breakpoint_m, *CONCRETE_EPS)
        lin = sum(power[b] * 10 ** (-((b + 1) * p.r_db + p.offset_db) / 10)
                  for b in range(bounces))
        with np.errstate(divide="ignore"):
            return np.where(lin > 0, 10 * np.log10(np.maximum(lin, 1e-300)), -np.inf)

    def _over_roof(self, ty: int, tx: int, p: Params, los: np.ndarray,
                   dist: np.ndarray) -> np.ndarray:
        """The direct path over the roofs: path loss + the dominant edge's knife-edge loss."""
        f = self.f
        r = max(1, int(round(20.0 / self.cell_m)))
        roof = float(self.heights[max(0, ty - r):ty + r + 1, max(0, tx - r):tx + r + 1].max())
        level = float(np.percentile(self.heights[self.blocked], 75)) if self.blocked.any() else 0
        h_tx = max(roof, level, TX_STREET_HEIGHT_M) + p.tx_above_roof_m
        nu = kernels.over_roof_nu(self.coarse_heights, ty // f, tx // f, h_tx, RX_HEIGHT_M,
                                  self.cell_m * f, WAVELENGTH_M)
        j = _upsample(knife_edge_db(nu) * p.knife_scale, self.n)
        pl = path_loss_db(np.hypot(dist, h_tx - RX_HEIGHT_M), p)
        return np.where(los, -pl, -pl - j)

    def gain_db(self, ty: int, tx: int, p: Params, regime: str = "street",
                rng: np.random.Generator | None = None, bounces: int = BOUNCES) -> np.ndarray:
        """Path gain (dB) of every pixel: the mechanisms' powers summed; buildings -inf."""
        comp = self.components(ty, tx, p, regime, bounces)
        with stage(self.timings, "sum, shadowing"):
            return self._combine(comp, ty, tx, p, rng)

    def _area_mean(self, total: np.ndarray, ty: int, tx: int, sigma: float) -> np.ndarray:
        """Power smoothed over outdoor cells: what a tracer's per-cell mean does at a shadow edge
        (the traces step by ~2 dB there; point values fall by most of the corner loss within a
        pixel or two). The transmitter's own cell keeps its point value."""
        free = self._free
        den = self._outdoor_weight.get(sigma)
        if den is None:  # the same for every transmitter of the city
            den = np.maximum(gaussian_filter(free, sigma, mode="constant"), np.float32(1e-6))
            self._outdoor_weight[sigma] = den
        num = gaussian_filter(total * free, sigma, mode="constant")
        out = np.where(free > 0, num / den, np.float32(0)).astype(np.float32)
        out[ty, tx] = total[ty, tx]
        return out

    def _combine(self, comp: dict, ty: int, tx: int, p: Params,
                 rng: np.random.Generator | None) -> np.ndarray:
        def power(keys: tuple[str, ...]) -> np.ndarray:
            out = np.zeros((self.n, self.n), np.float32)
            for key in keys:
                if key in comp:  # exp(-inf) = 0: the mechanism brings nothing there
                    out += np.exp(comp[key].astype(np.float32) * np.float32(math.log(10) / 10))
            return out

        sampled = rng is not None and math.isfinite(p.ray_level_db)
        if not sampled:
            total = power(("direct", "corner", "reflected", "over_roof"))
            if p.smooth_px > 0:  # an area mean over outdoor cells (a normalised convolution)
                total = self._area_mean(total, ty, tx, p.smooth_px)
        else:   # the indirect part's mean, then its estimate from the rays that reach each cell
            direct, indirect = power(("direct", "over_roof")), power(("corner", "reflected"))
            if p.smooth_px > 0:
                direct = self._area_mean(direct, ty, tx, p.smooth_px)
                indirect = self._area_mean(indirect, ty, tx, p.smooth_px)
            total = direct + ray_estimate(indirect, p, rng)
        with np.errstate(divide="ignore"):
            gain = np.where(total > 0, 10 * np.log10(np.maximum(total, np.float32(1e-37))),
                            np.float32(-np.inf))
        if rng is not None and p.shadowing_db > 0:
            k = max(2, int(round(self.n * self.cell_m / 32)))
            noise = rng.standard_normal((k, k)) * p.shadowing_db
            gain = gain + _upsample(noise, self.n).astype(np.float32)
        gain[self.blocked] = -np.inf
        gain[ty, tx] = max(gain[ty, tx], -FSPL_1M_DB)
        return gain.astype(np.float32)


def ray_estimate(mean: np.ndarray, p: Params, rng: np.random.Generator) -> np.ndarray:
    """An unbiased Monte-Carlo estimate of each cell's power ``mean`` (linear) from
    k ~ Poisson(lambda) rays, lambda = (mean / ray level) ** ray_beta, each carrying
    mean / lambda times a log-normal weight of mean 1 (the sum of k weights drawn as one
    log-normal of the same mean and variance). E[estimate] = mean; k = 0 reads 0 (the floor)."""
    level = 10 ** (p.ray_level_db / 10)
    lam = np.minimum((np.maximum(mean, 0) / level) ** p.ray_beta, 1e6)
    k = rng.poisson(lam)
    var = math.expm1((p.ray_spread_db * math.log(10) / 10) ** 2)   # one weight's variance
    s2 = np.log1p(var / np.maximum(k, 1))
    weight = np.exp(np.sqrt(s2) * rng.standard_normal(mean.shape) - s2 / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = np.where(k > 0, mean / np.maximum(lam, 1e-30) * k * weight, 0.0)
    return est.astype(np.float32)


def _upsample(a: np.ndarray, n: int) -> np.ndarray:
    """Linear interpolation of a k x k grid onto n x n pixel centres (any k, n)."""
    k = a.shape[0]
    pos = np.clip((np.arange(n) + 0.5) * k / n - 0.5, 0, k - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, k - 1)
    w = (pos - lo)[:, None]
    a = a[lo] * (1 - w) + a[hi] * w
    return a[:, lo] * (1 - w.T) + a[:, hi] * w.T
