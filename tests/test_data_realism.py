"""Realism features (radiovae.data.realism), `radiovae data stats A B`, and our cities as
Sionna RT scenes (radiovae.data.citytrace)."""

from __future__ import annotations

import numpy as np
import pytest

from radiovae.cli import main
from radiovae.data.citytrace import city_mesh
from radiovae.data.realism import map_features


def test_features_tell_sharp_from_smooth_and_canyons_from_open_ground():
    n = 64
    b = np.zeros((n, n), bool)
    b[:28, :28] = b[:28, 36:] = b[36:, :28] = b[36:, 36:] = True  # a street cross
    yy, xx = np.mgrid[:n, :n]
    dist = np.hypot(yy - 32, xx - 10)
    smooth = np.clip(250 - 2 * dist, 1, 255).astype(np.uint8)  # ignores the buildings
    f_smooth = map_features(smooth, b, 32, 10)
    from radiovae.data import kernels

    los = kernels.line_of_sight(b, 32, 10)
    sharp = np.where(los, smooth, (smooth * 0.5).astype(np.uint8))  # 30+ dB less in the shadow
    f_sharp = map_features(sharp, b, 32, 10)
    assert f_smooth["edge_drop_db"] < 2 < 20 < f_sharp["edge_drop_db"]
    free = ~b
    assert f_sharp["los_share"] == pytest.approx(los[free].mean())
    # a canyon lit along its axis (gain varying across it, seen from a transmitter in it) is
    # anisotropic; a radial falloff on open ground is not; noise is in between
    open_ground = np.zeros((n, n), bool)
    canyon = np.where(np.abs(yy - 32) < 4, 200, 60).astype(np.uint8)
    radial = np.clip(250 - 3 * np.hypot(yy - 32, xx - 32), 1, 255).astype(np.uint8)
    noise = np.random.default_rng(0).integers(1, 255, (n, n)).astype(np.uint8)
    assert map_features(canyon, open_ground, 32, 10)["anisotropy"] > 0.8
    assert map_features(radial, open_ground, 32, 32)["anisotropy"] < 0.05
    assert 0.4 < map_features(noise, open_ground, 32, 32)["anisotropy"] < 0.6


def test_stats_compares_two_folders(tmp_path, capsys):
    for name, regime in (("street", "street"), ("roof", "above_roof")):
        assert main(["data", "synth", "--out", str(tmp_path / name), "--maps", "2", "--tx", "2",
                     "--size", "32", "--workers", "1", "--regime", regime]) == 0
    capsys.readouterr()
    assert main(["data", "stats", str(tmp_path / "street"), str(tmp_path / "roof")]) == 0
    text = capsys.readouterr().out
    assert "realism features" in text and "difference" in text and "overlap" in text
    assert "street:SYN" in text and "roof:SYN" in text
    lit = next(line for line in text.splitlines() if "lit share" in line)
    # above the roofs every outdoor pixel is above the floor; at street level not all are
    cells = [c.strip() for c in lit.split("│") if c.strip()]
    assert cells[2] == "100.0%" and float(cells[1].rstrip("%")) < 100


def test_city_mesh_extrudes_footprints():
    h = np.zeros((20, 20), np.float32)
    h[5:15, 4:10] = 12.0  # one 6 x 10 cell building, 12 m
    v, f = city_mesh(h, 2.0)
    assert v[:, 2].max() == 12.0 and v[:, 2].min() == 0.0
    walls = [tri for tri in f if np.ptp(v[tri][:, 2]) > 0]
    roofs = [tri for tri in f if np.ptp(v[tri][:, 2]) == 0 and v[tri][0, 2] == 12.0]
    assert len(walls) == 8  # 4 straight walls, two triangles each
    area = sum(0.5 * abs(np.cross(v[t[1]] - v[t[0]], v[t[2]] - v[t[0]])[2]) for t in roofs)
    assert area == pytest.approx(6 * 10 * 4.0)  # the footprint: 60 cells of 4 m^2
    xs, ys = v[:, 0], v[:, 1]
    assert xs.min() == pytest.approx(4 * 2.0) and xs.max() == pytest.approx(10 * 2.0)
    assert ys.min() == pytest.approx(5 * 2.0) and ys.max() == pytest.approx(15 * 2.0)


def test_stats_with_a_missing_second_folder_is_one_line(tmp_path):
    import subprocess
    import sys

    assert main(["data", "synth", "--out", str(tmp_path / "a"), "--maps", "1", "--tx", "1",
                 "--size", "16", "--workers", "1"]) == 0
    result = subprocess.run([sys.executable, "-m", "radiovae", "data", "stats",
                             str(tmp_path / "a"), str(tmp_path / "missing")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing" in lines[0]
