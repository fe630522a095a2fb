"""RadioMapSeer (RadioDiff's split, real layout, clear errors), generated data through the same
class, and FolderMaps."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from radiovae.data import FolderMaps, RadioMapSeer, SyntheticMaps, synthesize
from radiovae.data.layout import Layout, write_png_fast
from radiovae.data.radiomapseer import radiodiff_order, split_maps, split_positions
from radiovae.errors import UserError

# Computed once from RadioDiff's own algorithm (lib/loaders.py, RadioUNet_c):
#   np.random.seed(42); maps_inds = np.arange(0, 700, 1, dtype=np.int16); np.random.shuffle(...)
#   file name = maps_inds[position] + 1; train 0..600, val 600..650, test 600..699 (inclusive)
ORDER_HEAD = [158, 500, 396, 155, 321]
TRAIN_HEAD = [159, 501, 397, 156, 322]
TEST_HEAD = [289, 419, 392]
SHARED_MAP = 289  # position 600: in train, val and test


def test_standard_split_reproduces_radiodiff():
    state = np.random.get_state()
    order = radiodiff_order()
    assert order[:5].tolist() == ORDER_HEAD
    np.random.set_state(state)
    np.random.seed(42)  # RadioDiff's code, verbatim in spirit
    ref = np.arange(0, 700, 1, dtype=np.int16)
    np.random.shuffle(ref)
    assert np.array_equal(order, ref)

    names = list(range(0, 701))  # RadioMapSeer: maps 0..700
    train, val, test = (split_maps(names, s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (601, 51, 100)
    assert train[:5] == TRAIN_HEAD and test[:3] == TEST_HEAD
    assert train == [int(i) + 1 for i in ref[0:601]]
    assert test == [int(i) + 1 for i in ref[600:700]]
    assert set(train) & set(test) == {SHARED_MAP}  # RadioDiff's train and test share one map
    assert set(val) <= set(test)  # and its val maps are all test maps
    assert 0 not in set(train) | set(val) | set(test)


def test_disjoint_split():
    names = list(range(0, 701))
    train, val, test = (split_maps(names, s, "disjoint") for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (600, 50, 50)
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    assert set(train) | set(val) | set(test) == set(range(1, 701))
    for n in (3, 10, 57):
        parts = [list(split_positions(n, s, "disjoint")) for s in ("train", "val", "test")]
        assert sorted(sum(parts, [])) == list(range(n)) and all(parts)
    with pytest.raises(UserError, match="split"):
        split_positions(700, "validation")


def fake_radiomapseer(root, maps, num_tx, sims=("DPM", "IRT2"), size=16):
    layout = Layout(root)
    for m in range(0, 701):
        write_png_fast(layout.buildings(m), np.zeros((size, size), np.uint8))
    for m in maps:
        b = np.zeros((size, size), np.uint8)
        b[:4, :4] = 255
        write_png_fast(layout.buildings(m), b)
        for k in range(num_tx):
            a = np.zeros((size, size), np.uint8)
            a[8, k] = 255
            write_png_fast(layout.antenna(m, k), a)
            for s in sims:
                g = np.full((size, size), (m + k) % 256, np.uint8)
                g[:4, :4] = 0
                write_png_fast(layout.gain(s, m, k), g)
    return layout


@pytest.fixture(scope="module")
def rms_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("RadioMapSeer")
    fake_radiomapseer(root, split_maps(list(range(701)), "test"), num_tx=2)
    return root


def test_radiomapseer_items_as_radiodiff(rms_root):
    ds = RadioMapSeer(rms_root, split="test", simulation="DPM", num_tx=2)
    assert len(ds) == 200
    item = ds[1]  # map at position 600, transmitter 1
    assert item["name"] == f"{SHARED_MAP}_1"
    expected = ((SHARED_MAP + 1) % 256) / 255 * 2 - 1  # gray / 255 * 2 - 1
    assert item["image"].shape == (1, 16, 16)
    assert float(item["image"][0, 10, 10]) == pytest.approx(expected, abs=1e-6)
    assert float(item["image"][0, 0, 0]) == -1.0
    assert item["buildings"][0, :4, :4].eq(1).all() and item["buildings"].sum() == 16
    assert item["tx"].sum() == 1 and item["tx"][0, 8, 1] == 1
    assert RadioMapSeer(rms_root, "test", "IRT2").num_tx == 2  # detected from the files
    assert RadioMapSeer(rms_root, "test", "DPM", size=8)[0]["image"].shape == (1, 8, 8)


def test_radiomapseer_clear_errors(rms_root, tmp_path):
    with pytest.raises(UserError, match=r"has no gain/IRT4 \(found: DPM, IRT2\)"):
        RadioMapSeer(rms_root, "test", "IRT4")
    with pytest.raises(UserError, match="gain/carsDPM"):
        RadioMapSeer(rms_root, "test", "DPM", cars=True)
    with pytest.raises(UserError, match=r"80|missing.*e\.g\. \d+_2\.png"):
        RadioMapSeer(rms_root, "test", "DPM", num_tx=80)
    with pytest.raises(UserError, match="train split missing"):
        RadioMapSeer(rms_root, "train", "DPM", num_tx=2)  # only the test maps were written
    with pytest.raises(UserError, match="does not exist"):
        RadioMapSeer(tmp_path / "nowhere")
    (tmp_path / "empty" / "gain").mkdir(parents=True)
    with pytest.raises(UserError, match="no png/buildings_complete and no png/antennas"):
        RadioMapSeer(tmp_path / "empty")
    nested = tmp_path / "download"
    (nested / "RadioMapSeer" / "png").mkdir(parents=True)
    with pytest.raises(UserError, match="pass .*RadioMapSeer as the root"):
        RadioMapSeer(nested)


def test_generated_maps_load_through_radiomapseer(tmp_path):
    synthesize(tmp_path, maps=8, tx=2, size=32, seed=3, workers=1, progress=False)
    splits = {s: RadioMapSeer(tmp_path, s, simulation="SYN", scheme="disjoint")
              for s in ("train", "val", "test")}
    maps = [set(ds.maps) for ds in splits.values()]
    assert set.union(*maps) == set(range(8)) and sum(len(m) for m in maps) == 8
    assert splits["train"].num_tx == 2
    synthetic = SyntheticMaps(8, 2, size=32, seed=3, progress=False)
    item = splits["test"][1]
    m, k = map(int, item["name"].split("_"))
    twin = synthetic[m * 2 + k]
    assert twin["name"] == item["name"]
    for key in ("image", "buildings", "tx"):
        assert np.array_equal(item[key].numpy(), twin[key].numpy()), key
    # RadioDiff's overlapping scheme, scaled to 8 maps
    train = RadioMapSeer(tmp_path, "train", simulation="SYN")
    test = RadioMapSeer(tmp_path, "test", simulation="SYN")
    assert len(set(train.maps) & set(test.maps)) == 1


def test_folder_maps(tmp_path):
    root = tmp_path / "maps"
    (root / "b").mkdir(parents=True)
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(root / "b" / "z.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "a.png")
    np.save(root / "c.npy", np.full((1, 8, 8), 0.25, np.float32))
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / "preview.png")  # radiovae's own
    (root / ".hidden").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / ".hidden" / "x.png")
    ds = FolderMaps(root)
    assert [ds[i]["name"] for i in range(len(ds))] == ["a.png", "b/z.png", "c.npy"]
    assert float(ds[0]["image"].max()) == -1.0 and float(ds[1]["image"].min()) == 1.0
    assert float(ds[2]["image"][0, 0, 0]) == pytest.approx(-0.5)
    assert FolderMaps(root, size=4)[2]["image"].shape == (1, 4, 4)

    db = tmp_path / "db"
    db.mkdir()
    np.save(db / "g.npy", np.array([[-47.84, -147.0], [-200.0, -97.42]]))
    img = FolderMaps(db, npy="db")[0]["image"][0]
    assert img.flatten().tolist() == pytest.approx([1.0, -1.0, -1.0, 0.0], abs=1e-4)
    with pytest.raises(UserError, match=r"not \[0, 1\].*npy='db'"):
        FolderMaps(db)


def test_folder_maps_errors(tmp_path):
    with pytest.raises(UserError, match="holds no .png or .npy"):
        FolderMaps(tmp_path)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="bad.png"):
        FolderMaps(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        FolderMaps(tmp_path / "missing")
