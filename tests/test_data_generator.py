"""The built-in generator: RadioMapSeer's layout, determinism, and physics sanity."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from radiovae.data import SyntheticMaps, synthesize
from radiovae.data.generator import SIMULATION, make_map
from radiovae.data.grayscale import gray_to_unit
from radiovae.data.layout import encode_gray_png, read_png
from radiovae.errors import UserError


def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("syn")
    synthesize(out, maps=3, tx=2, size=64, seed=7, workers=1, progress=False)
    return out


def test_layout_and_file_names_match_radiomapseer(synth_dir):
    files = sorted(digests(synth_dir))
    expected = sorted([f"png/buildings_complete/{m}.png" for m in range(3)]
                      + [f"png/antennas/{m}_{k}.png" for m in range(3) for k in range(2)]
                      + [f"gain/{SIMULATION}/{m}_{k}.png" for m in range(3) for k in range(2)])
    assert files == expected  # nothing else: no temporary files left behind
    for m in range(3):
        b = Image.open(synth_dir / f"png/buildings_complete/{m}.png")
        assert b.mode == "L" and b.size == (64, 64)
        assert set(np.unique(np.asarray(b))) <= {0, 255}
        for k in range(2):
            a = read_png(synth_dir / f"png/antennas/{m}_{k}.png")
            assert np.count_nonzero(a) == 1 and a.max() == 255
            g = Image.open(synth_dir / f"gain/{SIMULATION}/{m}_{k}.png")
            assert g.mode == "L" and g.size == (64, 64)
            gray = np.asarray(g)
            assert gray[np.unravel_index(np.argmax(a), a.shape)] == 255  # brightest at the Tx
            assert (gray[np.asarray(b) > 0] == 0).all()


def test_png_encoder_round_trips():
    img = np.random.default_rng(0).integers(0, 256, (37, 53), dtype=np.uint8)
    from io import BytesIO

    assert np.array_equal(np.asarray(Image.open(BytesIO(encode_gray_png(img)))), img)


def test_deterministic_for_a_seed_whatever_the_workers(synth_dir, tmp_path):
    synthesize(tmp_path / "w2", maps=3, tx=2, size=64, seed=7, workers=2, progress=False)
    assert digests(tmp_path / "w2") == digests(synth_dir)
    synthesize(tmp_path / "other", maps=3, tx=2, size=64, seed=8, workers=1, progress=False)
    assert digests(tmp_path / "other") != digests(synth_dir)


def test_synthetic_dataset_is_what_synth_writes(synth_dir):
    ds = SyntheticMaps(3, 2, size=64, seed=7, progress=False)
    assert len(ds) == 6
    item = ds[3]  # map 1, transmitter 1
    assert item["name"] == "1_1"
    gray = read_png(synth_dir / f"gain/{SIMULATION}/1_1.png")
    assert item["image"].shape == (1, 64, 64)
    assert np.array_equal(item["image"][0].numpy(), gray_to_unit(gray))
    assert item["image"].min() >= -1 and item["image"].max() <= 1
    buildings = read_png(synth_dir / "png/buildings_complete/1.png") > 0
    assert np.array_equal(item["buildings"][0].numpy() > 0, buildings)
    antenna = read_png(synth_dir / "png/antennas/1_1.png") > 0
    assert np.array_equal(item["tx"][0].numpy() > 0, antenna)
    with pytest.raises(IndexError):
        ds[6]


@pytest.fixture(scope="module")
def city_maps():
    return [make_map(seed=11, index=i, tx_per_map=3, size=256) for i in range(4)]


def test_peak_at_transmitter_and_buildings_zero(city_maps):
    for m in city_maps:
        for k, (ty, tx) in enumerate(m.tx):
            assert not m.buildings[ty, tx]
            assert (m.gains[k][m.buildings] == 0).all()
            assert m.gains[k][ty, tx] == m.gains[k].max() == 255


def test_gain_falls_with_distance(city_maps):
    rings = [(0, 15), (15, 40), (40, 80), (80, 140), (140, 400)]
    means = np.zeros(len(rings))
    for m in city_maps:
        yy, xx = np.mgrid[:256, :256]
        for k, (ty, tx) in enumerate(m.tx):
            d = np.hypot(yy - ty, xx - tx)
            for i, (lo, hi) in enumerate(rings):
                sel = (d >= lo) & (d < hi) & ~m.buildings
                means[i] += m.gains[k][sel].mean() if sel.any() else 0
    assert np.all(np.diff(means) < 0), means


def test_maps_vary_between_indices(city_maps):
    shares = [m.buildings.mean() for m in city_maps]
    assert all(0.1 < s < 0.7 for s in shares)
    assert len({round(s, 3) for s in shares}) == len(shares)


def test_no_stray_temporary_files_named_like_maps(synth_dir):
    pattern = re.compile(r"^(\d+)(_\d+)?\.png$")
    assert all(pattern.match(p.name) for p in synth_dir.rglob("*") if p.is_file())


def test_synth_never_overwrites_another_sources_maps(tmp_path):
    """Generated and ray-traced maps share png/buildings_complete: a synth run must not clobber
    a mask it did not write, while re-running synth on its own output stays allowed."""
    foreign = tmp_path / "png" / "buildings_complete" / "1.png"
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(encode_gray_png(np.full((8, 8), 255, np.uint8)))
    before = foreign.read_bytes()
    with pytest.raises(UserError, match="already holds map 1 from another source"):
        synthesize(tmp_path, maps=2, tx=1, size=32, seed=0, progress=False)
    assert foreign.read_bytes() == before
    other = tmp_path / "other"
    synthesize(other, maps=2, tx=1, size=32, seed=0, progress=False)
    synthesize(other, maps=2, tx=1, size=32, seed=0, progress=False)  # its own maps: fine


def test_the_demo_trains_on_street_maps_and_the_grid_regime_stays_deterministic():
    """The demo trains on the physics-based street-level maps (the default regime); the first
    generator's grid-block maps stay as the `grid` regime: the same maps for a seed, whatever the
    worker count, brightest at the transmitter."""
    from radiovae.data.generator import generate_maps
    from radiovae.train.demo import demo_config

    assert demo_config().data.regime == "street"
    one = generate_maps(3, 2, 64, seed=5, workers=1, regime="grid")
    two = generate_maps(3, 2, 64, seed=5, workers=2, regime="grid")
    for a, b in zip(one, two, strict=True):
        assert (a.gains == b.gains).all() and (a.buildings == b.buildings).all()
    m = make_map(5, 0, 2, 64, regime="grid")
    for k, (ty, tx) in enumerate(m.tx):
        assert m.gains[k, ty, tx] == 255 and m.gains[k][m.buildings].max() == 0
        outdoor = ~m.buildings
        near = outdoor & (np.hypot(*np.indices(m.buildings.shape) - np.array([ty, tx])[:, None,
                                                                                      None]) < 8)
        assert m.gains[k][near].mean() > m.gains[k][outdoor].mean()
