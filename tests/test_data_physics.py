"""The propagation model's physics, tested against its geometric truth (radiovae.data.propagation)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from radiovae.data import kernels
from radiovae.data.city import NETWORKS, make_city
from radiovae.data.propagation import Params, Scene, knife_edge_db, path_loss_db

P = Params(n1=2.0, n2=3.5, breakpoint_m=100.0, corner_db=14.0, corner_deg=30.0, r_db=7.0,
           shadowing_db=0.0, smooth_px=0.0)  # point values: the geometry, unsmoothed


def sampled_clear(blocked: np.ndarray, a: tuple[float, float], b: tuple[float, float],
                  samples: int = 4000) -> bool:
    """Independent truth: points along the segment, none inside a building cell."""
    t = np.linspace(0.0, 1.0, samples)
    y, x = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
    return not blocked[np.floor(y).astype(int), np.floor(x).astype(int)].any()


@pytest.fixture(scope="module")
def cities():
    return [make_city(np.random.default_rng([3, i]), 128) for i in range(6)]


def test_line_of_sight_is_exactly_the_unobstructed_segments(cities):
    rng = np.random.default_rng(0)
    checked = disagree = 0
    for city in cities:
        blocked = city.buildings
        free = np.argwhere(~blocked)
        ty, tx = free[rng.integers(len(free))]
        vis = kernels.line_of_sight(blocked, int(ty), int(tx))
        assert not vis[blocked].any()
        for i, j in free[rng.choice(len(free), 300, replace=False)]:
            truth = sampled_clear(blocked, (ty + 0.5, tx + 0.5), (i + 0.5, j + 0.5))
            checked += 1
            disagree += truth != bool(vis[i, j])
    # sampling can only miss a grazed cell corner: a handful at most
    assert checked == 1800 and disagree <= 5, disagree


def canyon_city(n: int = 128) -> np.ndarray:
    """An east-west street canyon (rows 56..71) crossed by a north-south street (cols 56..71),
    blocks 20 m high elsewhere."""
    h = np.full((n, n), 20.0, np.float32)
    h[56:72, :] = 0
    h[:, 56:72] = 0
    return h


def shadow_edge_drops(gain: np.ndarray, los: np.ndarray, depth: int = 1) -> list[float]:
    """The side street north of the crossing of canyon_city(), row by row: the gain at the first
    lit pixel minus the gain ``depth`` pixels into the corner's shadow west of it."""
    drops = []
    for row in range(10, 50):
        cols = np.arange(56, 72)
        lit = cols[los[row, cols]]
        if lit.size and lit.min() > 56 + depth - 1:  # the west part is in the corner's shadow
            edge = lit.min()
            drops.append(gain[row, edge] - gain[row, edge - depth])
    return drops


def test_shadow_edges_are_exact_and_the_loss_grows_into_the_shadow():
    """A transmitter in the canyon south-west of the crossing: the street north of it is lit only
    in the line of sight through the crossing (its east side). The corner loss starts at 0 at a
    grazing turn, so one pixel into the shadow the gain has dropped by less than at a right
    angle, and it keeps falling deeper into the shadow (the turn grows)."""
    h = canyon_city()
    scene = Scene(h, 1.0)
    ty, tx = 70, 50
    gain = scene.gain_db(ty, tx, P, bounces=0)
    los = kernels.line_of_sight(scene.blocked, ty, tx)
    one, four = shadow_edge_drops(gain, los, 1), shadow_edge_drops(gain, los, 4)
    assert len(one) > 10 and len(four) > 5
    assert 0 < np.median(one) < P.corner_db / 2, one
    assert np.median(four) > np.median(one) + 2, (one, four)


def test_area_mean_softens_the_shadow_edge_as_the_traces_do():
    """The traced maps' power per cell is an area mean: with smooth_px the step across the shadow
    edge shrinks, the power is spread over outdoor cells only (buildings stay -inf) and a map of
    uniform power stays uniform."""
    h = canyon_city()
    scene = Scene(h, 1.0)
    ty, tx = 70, 50
    los = kernels.line_of_sight(scene.blocked, ty, tx)
    sharp = scene.gain_db(ty, tx, P, bounces=0)
    soft = scene.gain_db(ty, tx, Params(**{**P.__dict__, "smooth_px": 1.0}), bounces=0)
    assert np.median(shadow_edge_drops(soft, los)) < np.median(shadow_edge_drops(sharp, los)) - 0.5
    assert not np.isfinite(soft[scene.blocked]).any()
    flat = np.where(scene.blocked, 0, 1e-9).astype(np.float32)
    even = scene._area_mean(flat, ty, tx, 1.0)
    assert np.allclose(even[~scene.blocked], 1e-9, rtol=1e-4)


def test_canyon_brighter_along_its_axis_than_round_the_corner():
    h = canyon_city()
    scene = Scene(h, 1.0)
    ty, tx = 63, 63  # in the crossing
    gain = scene.gain_db(ty, tx, P)
    # along the canyon (same street) vs. the same distance behind a corner
    along = gain[63, 63 - 50]
    h2 = h.copy()
    h2[56:72, :40] = 20.0  # close the west arm: the street now ends at col 40
    h2[30:40, 0:56] = 0.0  # ... and a parallel street opens north of the block
    gain2 = Scene(h2, 1.0).gain_db(ty, tx, P)
    assert along > gain2[35, 13] + 10


def test_reflections_brighten_the_canyon():
    h = canyon_city()
    scene = Scene(h, 1.0)
    with_r = scene.gain_db(63, 10, P, bounces=2)
    without = scene.gain_db(63, 10, P, bounces=0)
    canyon = np.zeros_like(scene.blocked)
    canyon[57:71, 30:120] = True
    gain_db = with_r[canyon] - without[canyon]  # all finite: the canyon is in line of sight
    assert np.median(gain_db) > 0.5 and (gain_db >= -1e-4).all()


def test_corner_loss_grows_with_turn_angle():
    """Behind one building corner, at equal distance from it, the diffracted gain falls as the
    turn grows."""
    n = 128
    h = np.zeros((n, n), np.float32)
    h[64:, 64:] = 20.0  # one building: its corner at (64, 64)
    scene = Scene(h, 1.0)
    comp = scene.components(64 + 30, 30, P, bounces=0)  # south-west of the corner
    corner = comp["corner"]
    # the path reaches the corner heading 41 deg north of east; points 30 m beyond the corner at
    # 35, 20 and 5 deg north of east are behind the building, turns of 6, 21 and 36 deg
    vals = []
    for deg in (35, 20, 5):
        a = math.radians(deg)
        i, j = int(64 - 30 * math.sin(a)), int(64 + 30 * math.cos(a))
        vals.append(corner[i, j])
    assert np.all(np.isfinite(vals)) and vals[0] > vals[1] > vals[2], vals


def test_two_slope_path_loss_and_knife_edge():
    d = np.array([10.0, 100.0, 1000.0])
    pl = path_loss_db(d, P)
    assert pl[1] - pl[0] == pytest.approx(20.0)  # n1 = 2 before the breakpoint
    assert pl[2] - pl[1] == pytest.approx(35.0)  # n2 = 3.5 past it
    assert knife_edge_db(np.array([-1.0]))[0] == 0
    # against the Fresnel integrals: J = -20 log10(|(1 + j) / 2 * integral_nu^inf|)
    from scipy.special import fresnel

    nu = np.linspace(-0.7, 4.0, 30)
    s, c = fresnel(nu * 1.0)
    exact = -20 * np.log10(np.hypot(1 - c - s, c - s) / 2)
    assert np.abs(knife_edge_db(nu) - exact).max() < 0.6
    assert knife_edge_db(np.array([0.0]))[0] == pytest.approx(6.0, abs=0.1)  # grazing: 6 dB


def test_above_roof_fills_the_shadows():
    """A courtyard closed on all sides gets nothing from a street-level transmitter; from above
    the roofs the wave diffracts over them into it, and more the higher the mast."""
    h = canyon_city()
    h[10:30, 10:30] = 0.0  # the courtyard, inside the north-west block
    scene = Scene(h, 1.0)
    court = np.zeros_like(scene.blocked)
    court[12:28, 12:28] = True
    street = scene.gain_db(63, 63, P, "street")
    assert not np.isfinite(street[court]).any()
    low, high = (scene.gain_db(63, 63, Params(**{**P.__dict__, "tx_above_roof_m": m}),
                               "above_roof") for m in (2.0, 20.0))
    assert (low[court] > -147).all()  # above RadioMapSeer's floor
    assert np.median(high[court] - low[court]) > 0.5
    open_street = ~scene.blocked & ~court
    assert np.isfinite(low[open_street]).all()


def test_cities_are_varied_and_not_axis_aligned():
    kinds, angles, shares = set(), [], []
    for i in range(16):
        city = make_city(np.random.default_rng([9, i]), 128)
        kinds.add(city.network)
        b = city.buildings.astype(float)
        gy, gx = np.gradient(gaussian_filter(b, 2.0))  # smooth the staircase of oblique walls
        theta = np.arctan2(gy, gx)[np.hypot(gy, gx) > 0]
        # dominant wall orientation modulo 90 deg (0 for an axis-aligned grid)
        angles.append(np.degrees(np.angle(np.exp(4j * theta).mean()) / 4) % 90)
        shares.append(b.mean())
    assert kinds == set(NETWORKS)
    assert sum(10 < a < 80 for a in angles) >= 6, angles
    assert all(0.08 < s < 0.75 for s in shares), shares


@pytest.mark.parametrize("eps", [2.25, 4.0, 5.24])
def test_fresnel_reflectance_conserves_energy_on_a_lossless_wall(eps):
    """|Gamma_TE|^2 + the transmitted share (Snell, t = 2 cos_i / (cos_i + n cos_t)) = 1 at every
    angle; head-on it is ((1 - n) / (1 + n))^2, at grazing incidence 1."""
    n = math.sqrt(eps)
    for cos_i in (1.0, 0.8, 0.5, 0.2, 0.05):
        sin_t = math.sqrt(1 - cos_i ** 2) / n
        cos_t = math.sqrt(1 - sin_t ** 2)
        t = 2 * cos_i / (cos_i + n * cos_t)
        transmitted = n * cos_t / cos_i * t ** 2
        assert kernels.fresnel_te(cos_i, eps, 0.0) + transmitted == pytest.approx(1.0, abs=1e-9)
    assert kernels.fresnel_te(1.0, eps, 0.0) == pytest.approx(((1 - n) / (1 + n)) ** 2)
    assert kernels.fresnel_te(0.0, eps, 0.0) == pytest.approx(1.0)


def test_concrete_loses_little_at_grazing_incidence():
    """Concrete at 3.5 GHz (ITU-R P.2040): head-on a reflection loses about 8 dB, at 6 deg from
    grazing under 1 dB (why canyons stay lit along their axes)."""
    from radiovae.data.propagation import CONCRETE_EPS

    assert 10 * math.log10(kernels.fresnel_te(1.0, *CONCRETE_EPS)) == pytest.approx(-8.1, abs=0.2)
    assert 10 * math.log10(kernels.fresnel_te(math.sin(math.radians(6)), *CONCRETE_EPS)) > -1.0
