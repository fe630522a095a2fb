"""The shipped calibration (data/calibrated.json) and the fit that writes it
(scripts/calibrate_generator.py), checked on maps whose parameters are known."""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from radiovae.data.city import make_city, place_transmitters
from radiovae.data.propagation import (
    REGIMES,
    Params,
    Scene,
    calibrated,
    draw_params,
    path_loss_db,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import calibrate_generator as cg  # noqa: E402


def test_shipped_ranges_are_complete_and_drawn_within():
    cal = calibrated()
    names = {f.name for f in fields(Params)}
    for regime in REGIMES:
        ranges = cal["regimes"][regime]["ranges"]
        assert set(ranges) <= names
        fitted = {n for stage in cg.FIT[regime] for n in stage}
        assert fitted <= set(ranges)  # every fitted parameter is shipped
        for lo, hi in ranges.values():
            assert lo <= hi
        rng = np.random.default_rng(0)
        for _ in range(20):
            p = draw_params(rng, regime)
            for n, (lo, hi) in ranges.items():
                assert lo <= getattr(p, n) <= hi
        shipped = cal["regimes"][regime]
        if regime in cg.RAY_FIT:
            # its second stage fits the shadow's block means (a smooth map against a tracer's
            # mosaic of unlit and bright cells: the pixel error is not what it minimises), then
            # the ray sampling; both recorded
            assert set(cg.RAY_GRID) <= set(ranges)
            assert shipped["block_rmse_db_shadow_fitted"] <= shipped[
                "block_rmse_db_shadow_prior_mid"]
            traced, fitted = shipped["shadow_texture"]["traced"], shipped["shadow_texture"]["fitted"]
            assert abs(traced[0] - fitted[0]) < 0.1 and abs(traced[1] - fitted[1]) < 2.0
        else:
            assert shipped["rmse_db_fitted"] <= shipped["rmse_db_prior_mid"]


@pytest.mark.parametrize("regime", REGIMES)
def test_fit_recovers_known_parameters(regime):
    """A 'trace' that is the generator itself with known parameters: the fit brings the error
    from several dB to near zero and finds the distance law."""
    rng = np.random.default_rng([5, 1])
    city = make_city(rng, 48)
    (ty, tx), = place_transmitters(rng, city.buildings, 1)
    truth = Params(n1=2.2, n2=2.6, corner_db=12.0, corner_deg=30.0, r_db=6.0, offset_db=2.0,
                   shadowing_db=0.0, tx_above_roof_m=cg.ABOVE_ROOF_M, knife_scale=1.1)
    scene = Scene(city.heights, 256.0 / 48)
    m = {"heights": city.heights, "ty": int(ty), "tx": int(tx), "regime": regime,
         "traced_db": scene.gain_db(int(ty), int(tx), truth, regime)}
    start = Params(n1=1.7, n2=3.5, corner_db=20.0, corner_deg=60.0, r_db=12.0, offset_db=-4.0)
    fitted, before, after = cg.fit_map(m, cg.FIT[regime], start)
    assert before > 3 and after < before / 4, (before, after)
    # the distance law it found (n1 and the offset trade off over a 256 m map: compare the loss)
    d = np.array([20.0, 60.0, 100.0])
    assert np.abs(path_loss_db(d, fitted) - path_loss_db(d, truth)).max() < 1.5
