"""The ray sampling stage (propagation.ray_estimate): an unbiased estimate of a cell's power from
few rays, which gives street maps the traces' shadow texture; and the statistic it is fitted to
(realism.shadow_texture)."""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from radiovae.data import kernels
from radiovae.data.city import make_city, place_transmitters
from radiovae.data.propagation import Params, Scene, calibrated, draw_params, ray_estimate
from radiovae.data.realism import shadow_texture

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import calibrate_generator as cg  # noqa: E402


@pytest.mark.parametrize("beta, spread", [(1.0, 0.0), (0.6, 8.0), (1.5, 12.0)])
def test_the_estimate_is_unbiased_and_unlit_where_no_ray_arrives(beta, spread):
    p = Params(ray_level_db=-110.0, ray_beta=beta, ray_spread_db=spread)
    levels_db = np.array([-130.0, -115.0, -110.0, -100.0, -80.0])
    mean = np.repeat(10 ** (levels_db / 10), 40_000).reshape(len(levels_db), -1)
    est = ray_estimate(mean.astype(np.float32), p, np.random.default_rng(0)).astype(np.float64)
    lam = (10 ** ((levels_db + 110.0) / 10)) ** beta
    # E[estimate] = the mean power (within a few standard errors of 40,000 draws)
    rel = est.mean(axis=1) / mean[:, 0]
    sd = np.sqrt((math.expm1((spread * math.log(10) / 10) ** 2) + 1) / lam / 40_000)
    assert np.all(np.abs(rel - 1) < 5 * sd + 0.01), rel
    # a cell is at the floor exactly when no ray reached it: P = exp(-lambda)
    assert np.allclose((est == 0).mean(axis=1), np.exp(-lam), atol=0.01)
    # one ray in a dim cell carries more than the cell's mean: lit shadow cells read brighter
    lit = est[0][est[0] > 0]
    assert np.median(lit) > 2 * mean[0, 0]


def _scene():
    rng = np.random.default_rng([11, 3])
    city = make_city(rng, 64)
    (ty, tx), = place_transmitters(rng, city.buildings, 1)
    scene = Scene(city.heights, 4.0)
    los = kernels.line_of_sight(scene.blocked, int(ty), int(tx))
    free = ~scene.blocked
    free[ty, tx] = False
    return scene, int(ty), int(tx), free, los & free


def test_unsampled_maps_are_the_smooth_mean_and_sampling_leaves_the_line_of_sight_alone():
    scene, ty, tx, free, los = _scene()
    smooth = Params(shadowing_db=0.0)
    a = scene.gain_db(ty, tx, smooth, "street", np.random.default_rng(1))
    b = scene.gain_db(ty, tx, smooth, "street")          # no rng: never sampled
    assert np.array_equal(a, b)
    sampled = replace(smooth, ray_level_db=-120.0, ray_beta=1.0, ray_spread_db=8.0)
    c = scene.gain_db(ty, tx, sampled, "street", np.random.default_rng(1))
    shadow = free & ~los
    assert (~np.isfinite(c[shadow])).mean() > (~np.isfinite(a[shadow])).mean() + 0.05
    reached = shadow & np.isfinite(a)
    # in the line of sight the direct path dominates: the sampled indirect part moves it little
    assert np.median(np.abs(c[los] - a[los])) < 1.0
    # the linear mean over many seeds is the smooth map's
    lin = np.mean([10 ** (scene.gain_db(ty, tx, sampled, "street", np.random.default_rng(s))
                          [reached].astype(np.float64) / 10) for s in range(300)], axis=0)
    assert 0.89 < np.median(lin / 10 ** (a[reached].astype(np.float64) / 10)) < 1.12  # 0.5 dB


def test_shadow_texture_measures_unlit_share_and_speckle():
    n = 32
    shadow = np.ones((n, n), bool)
    flat = np.full((n, n), -100.0)
    assert shadow_texture(flat, shadow, shadow) == (0.0, 0.0)
    rng = np.random.default_rng(0)
    noisy = flat + 6.0 * rng.standard_normal((n, n))
    lit = rng.random((n, n)) > 0.3
    unlit, speckle = shadow_texture(noisy, lit, shadow)
    assert unlit == pytest.approx((~lit).mean())
    # a pixel's deviation from its neighbours' median: a little above the noise's own 6 dB
    assert 5.5 < speckle < 8.5


def test_calibrated_street_maps_carry_the_traced_shadow_texture():
    """Maps drawn from the shipped ranges: their shadowed outdoor pixels are unlit about as
    often as the calibration traces' (the fit's median is in calibrated.json) and speckled by
    several dB; the smooth model had neither (unlit ~0, speckle ~1.4 dB)."""
    traced = calibrated()["regimes"]["street"]["shadow_texture"]["traced"]
    stats = []
    for seed in range(6):
        rng = np.random.default_rng([21, seed])
        city = make_city(rng, 64)
        (ty, tx), = place_transmitters(rng, city.buildings, 1)
        scene = Scene(city.heights, 4.0)
        free = ~scene.blocked
        free[ty, tx] = False
        los = kernels.line_of_sight(scene.blocked, int(ty), int(tx)) & free
        db = scene.gain_db(int(ty), int(tx), draw_params(rng, "street"), "street", rng)
        stats.append(cg.texture(db, free, los))
    unlit, speckle, _ = np.nanmedian(stats, axis=0)
    assert abs(unlit - traced[0]) < 0.2, (unlit, traced)
    assert speckle > 4.0 and abs(speckle - traced[1]) < 3.0, (speckle, traced)


def test_block_means_average_out_the_mosaic():
    """The calibration's street stage 2 compares 4 x 4 block means: against a ray-sampled map
    of the same parameters (a tracer's mosaic) the smooth map is much closer by that error than
    by the pixel error, and it still tells a level 10 dB off."""
    scene, ty, tx, free, los = _scene()
    smooth = Params(shadowing_db=0.0)
    sampled = replace(smooth, ray_level_db=-118.0, ray_beta=1.5, ray_spread_db=10.0)
    m = {"heights": scene.heights, "ty": ty, "tx": tx, "regime": "street",
         "traced_db": scene.gain_db(ty, tx, sampled, "street", np.random.default_rng(3))}
    shadow = free & ~los
    block = cg.block_error(m, smooth, scene, shadow)
    assert cg.map_error(m, smooth, scene, shadow) > block + 3
    for off in (-10.0, 15.0):
        assert cg.block_error(m, replace(smooth, offset_db=off), scene, shadow) > block + 2
