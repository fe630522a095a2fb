"""``radiovae data synth | preview | stats`` end to end."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from PIL import Image

from radiovae.cli import main


def test_synth_preview_stats(tmp_path, capsys):
    out = tmp_path / "syn"
    assert main(["data", "synth", "--out", str(out), "--maps", "4", "--tx", "3", "--size", "64",
                 "--seed", "5", "--workers", "2"]) == 0
    assert len(list((out / "gain" / "SYN").glob("*.png"))) == 12

    assert main(["data", "preview", str(out), "--samples", "3"]) == 0
    with Image.open(out / "preview.png") as im:
        assert im.size[0] > 300 and im.size[1] > 300
        assert np.asarray(im.convert("L")).std() > 10  # not blank

    capsys.readouterr()
    assert main(["data", "stats", str(out)]) == 0
    text = capsys.readouterr().out
    assert "SYN" in text and "coverage" in text and "dB" in text and "█" in text
    row = next(line for line in text.splitlines() if "SYN" in line and "│" in line)
    cells = [c.strip() for c in row.split("│") if c.strip()]
    assert cells[2:5] == ["4", "3", "12"]  # maps, tx per map, samples
    assert (out / "stats.png").is_file()


def test_preview_side_by_side_datasets_and_plain_folders(tmp_path):
    for name, seed in (("generated", 1), ("other", 2)):
        assert main(["data", "synth", "--out", str(tmp_path / name), "--maps", "2", "--tx", "1",
                     "--size", "32", "--seed", str(seed), "--workers", "1"]) == 0
    assert main(["data", "preview", str(tmp_path), "--out", str(tmp_path / "both.png")]) == 0
    assert (tmp_path / "both.png").is_file()
    maps = tmp_path / "maps"
    maps.mkdir()
    np.save(maps / "a.npy", np.random.default_rng(0).random((16, 16)))
    assert main(["data", "preview", str(maps), "--out", str(tmp_path / "folder.png")]) == 0


def test_bad_input_is_one_line_exit_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "radiovae", "data", "stats", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path) in lines[0] and "gain/" in lines[0]
    assert main(["data", "preview", str(tmp_path / "missing")]) == 2


def test_layout_without_gain_is_named(tmp_path, capsys):
    (tmp_path / "png" / "buildings_complete").mkdir(parents=True)
    assert main(["data", "preview", str(tmp_path)]) == 2
    assert "no gain/" in capsys.readouterr().err
