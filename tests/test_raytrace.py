"""Ray-traced maps of a bundled Sionna RT scene, for real (CPU, LLVM backend), at test size.

These tests run in CI: scripts/run.sh installs libllvm19 and the `raytrace` extra. They fail with
the fix named when Sionna RT or LLVM is missing; set RADIOVAE_SKIP_RAYTRACE=1 to skip on purpose.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from helpers import require

from radiovae.data import raytrace
from radiovae.data.layout import Layout, read_png
from radiovae.errors import UserError

SCENE, TX, SIZE = "simple_street_canyon", 2, 64


def _need_sionna() -> None:
    try:
        raytrace._import_sionna()
        problem = None
    except UserError as e:
        problem = str(e)
    require("ray tracing", problem, "RADIOVAE_SKIP_RAYTRACE")


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """One 64 x 64 map of simple_street_canyon with two transmitters (a few seconds)."""
    _need_sionna()
    out = tmp_path_factory.mktemp("raytrace")
    paths = raytrace.raytrace_maps(SCENE, TX, out, size=SIZE, cell=2.0, max_depth=3, seed=0,
                                   progress=False)
    return out, paths


def _record(out):
    return json.loads((out / raytrace.INDEX_FILE).read_text())["maps"][0]


def test_layout_and_sizes(traced):
    out, paths = traced
    layout = Layout(out)
    assert paths == [layout.gain("SionnaRT", 0, k) for k in range(TX)]
    assert layout.simulations() == ["SionnaRT"]
    for path in [layout.buildings(0), *(layout.antenna(0, k) for k in range(TX)), *paths]:
        image = read_png(path)
        assert image.shape == (SIZE, SIZE) and image.dtype == np.uint8, path
    record = _record(out)
    assert (record["map"], record["scene"], record["size"], len(record["tx"])) == (0, SCENE, SIZE, TX)


def test_buildings_from_geometry(traced):
    out, _ = traced
    buildings = read_png(Layout(out).buildings(0)) > 0
    # simple_street_canyon: six box buildings in a 128 m window, about a quarter of the area
    assert 0.1 < buildings.mean() < 0.6
    assert set(np.unique(read_png(Layout(out).buildings(0)))) <= {0, 255}


def test_antenna_pixel_and_gain(traced):
    out, paths = traced
    layout = Layout(out)
    buildings = read_png(layout.buildings(0)) > 0
    for k, path in enumerate(paths):
        antenna, gain = read_png(layout.antenna(0, k)), read_png(path).astype(float)
        (row, col), = np.argwhere(antenna > 0)  # exactly one nonzero pixel
        t = _record(out)["tx"][k]
        assert (row, col) == (t["row"], t["col"]) and not buildings[row, col]
        assert (gain[buildings] == 0).all()
        free = ~buildings
        assert (gain[free] > 0).mean() > 0.5  # most of the open street is covered
        # the strongest gain is at the transmitter: under a 50 m mast the gain is nearly flat
        # and wall / ground reflections add up to 3 dB (8 gray levels) a few cells away
        assert gain[max(0, row - 3):row + 4, max(0, col - 3):col + 4].max() >= gain.max() - 8
        # and gain falls with distance on average
        rr, cc = np.indices(gain.shape)
        dist = np.hypot(rr - row, cc - col)[free]
        near, far = gain[free][dist < 10].mean(), gain[free][dist > 30].mean()
        assert near > far + 10, (near, far)
        assert np.corrcoef(dist, gain[free])[0, 1] < -0.3


def test_resumes_without_tracing_again(traced, monkeypatch):
    out, paths = traced
    mtimes = [p.stat().st_mtime_ns for p in paths]
    calls = []
    real = raytrace._trace
    monkeypatch.setattr(raytrace, "_trace", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert raytrace.raytrace_maps(SCENE, TX, out, size=SIZE, cell=2.0, max_depth=3, seed=0,
                                  progress=False) == paths
    assert calls == [] and [p.stat().st_mtime_ns for p in paths] == mtimes
    # a lost map is traced again with the same transmitter; the others are left alone
    before = _record(out)["tx"]
    paths[1].unlink()
    raytrace.raytrace_maps(SCENE, TX, out, size=SIZE, cell=2.0, max_depth=3, seed=0,
                           progress=False)
    assert len(calls) == 1 and paths[1].is_file() and paths[0].stat().st_mtime_ns == mtimes[0]
    assert _record(out)["tx"] == before


def test_other_settings_get_a_new_map_number(traced, monkeypatch):
    out, _ = traced
    fake = np.full((16, 16), 1e-9)
    monkeypatch.setattr(raytrace, "_trace", lambda *a, **k: fake)  # the geometry is real
    paths = raytrace.raytrace_maps(SCENE, 1, out, size=16, cell=4.0, max_depth=3, seed=5,
                                   progress=False)
    assert paths == [Layout(out).gain("SionnaRT", 1, 0)]
    assert [r["map"] for r in json.loads((out / raytrace.INDEX_FILE).read_text())["maps"]] == [0, 1]


def test_new_map_number_skips_masks_of_other_sources(traced, monkeypatch, tmp_path):
    """Ray tracing into a folder of generated maps takes the next free map number."""
    from radiovae.data.generator import synthesize

    synthesize(tmp_path, maps=3, tx=1, size=16, seed=0, progress=False)
    before = read_png(Layout(tmp_path).buildings(0))
    monkeypatch.setattr(raytrace, "_trace", lambda *a, **k: np.full((16, 16), 1e-9))
    paths = raytrace.raytrace_maps(SCENE, 1, tmp_path, size=16, cell=4.0, max_depth=3, seed=5,
                                   progress=False)
    assert paths == [Layout(tmp_path).gain("SionnaRT", 3, 0)]
    assert np.array_equal(read_png(Layout(tmp_path).buildings(0)), before)


def test_bad_scene_names_the_bundled_ones(tmp_path):
    _need_sionna()
    with pytest.raises(UserError, match="unknown Sionna RT scene 'atlantis'.*munich"):
        raytrace.raytrace_maps("atlantis", 1, tmp_path)
    assert not any(tmp_path.iterdir())


def test_cli_handler(traced, capsys):
    out, _ = traced
    args = argparse.Namespace(scene=SCENE, tx=TX, out=str(out), size=SIZE, cell=2.0, max_depth=3,
                              seed=0)
    assert raytrace.raytrace_cli(args) == 0
    assert "2 ray-traced radio maps" in capsys.readouterr().out


def test_missing_sionna_is_a_user_error(monkeypatch):
    monkeypatch.setattr(raytrace.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match=r"pip install 'radiovae\[raytrace\]'.*libllvm19"):
        raytrace.raytrace_maps("munich", 1, "unused")


def test_our_own_city_traced():
    """A generated-style city (a street cross among 20 m blocks) as a Sionna RT scene: the street
    in sight of the transmitter gets about free-space gain, the blocks' far side much less."""
    from radiovae.data.citytrace import trace_city
    from radiovae.data.propagation import FSPL_1M_DB

    _need_sionna()
    n, cell = 32, 4.0
    h = np.full((n, n), 20.0, np.float32)
    h[14:18, :] = 0.0  # an east-west street, 16 m wide
    h[:, 14:18] = 0.0  # a north-south one
    h[2:8, 2:8] = 0.0  # a courtyard closed on all sides
    gain = trace_city(h, cell, [(15, 3, 3.0)], samples_per_cell=100, max_depth=3)[0]
    assert gain.shape == (n, n)
    db = 10 * np.log10(np.maximum(gain, 1e-30))
    for col in (10, 20, 28):  # along the street, in sight: free space within a few dB
        d = np.hypot(0.0, (col - 3) * cell)
        free_space = -(FSPL_1M_DB + 20 * np.log10(d))
        assert abs(db[15, col] - free_space) < 6, (col, db[15, col], free_space)
    # the closed courtyard: only over the 20 m roofs (edge diffraction), far below the street
    assert db[2:8, 2:8].max() < db[15, 10] - 20


def test_traced_set_resumes_only_maps_traced_with_the_same_ray_count(tmp_path, monkeypatch):
    """A traces.npz is resumed map by map, but a map traced with another ray count (or one the
    file does not record) is traced again: a set never mixes ray counts unknowingly."""
    from radiovae.data import citytrace

    calls = []

    def fake_trace(heights, cell, transmitters, samples_per_cell, seed):
        calls.append(samples_per_cell)
        return np.full((len(transmitters), *heights.shape), 10.0 ** (-samples_per_cell / 100))

    monkeypatch.setattr(citytrace, "trace_city", fake_trace)
    citytrace.traced_set(3, 2, 1, 16, tmp_path, samples=200, regimes=("street",))
    assert calls == [200, 200]
    citytrace.traced_set(3, 2, 1, 16, tmp_path, samples=200, regimes=("street",))
    assert calls == [200, 200]  # all there: nothing traced
    citytrace.traced_set(3, 2, 1, 16, tmp_path, samples=500, regimes=("street",))
    assert calls == [200, 200, 500, 500]
    maps = citytrace.load_traces(tmp_path)
    assert [m["samples"] for m in maps] == [500, 500]
    assert all(m["regime"] == "street" for m in maps)
    assert np.allclose(maps[0]["traced_db"], -50.0)  # 10 log10(10^-5), the 500-ray trace
