"""Outputs never overwrite what radiovae did not write: ``report`` and ``compare`` share one rule
for ``--out`` (new, empty, or holding radiovae's marker and only what radiovae writes), and the
names inside a comparison never collide."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import one_error_line

from radiovae.cli import main
from radiovae.report.compare_figures import figure_names


def jsonl_run(path: Path, extra: dict[str, float]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"step": s, "time": 1.7e9 + s,
                                        "train/total_loss": 1.0 / (s + 1),
                                        **{k: v * (s + 1) for k, v in extra.items()}}) + "\n"
                            for s in range(0, 200, 10)))
    return path


@pytest.fixture
def two_runs(tmp_path) -> list[str]:
    extra = {"grad_norm": 1.0, "grad:norm": 2.0, "grad norm": 3.0}
    return [str(jsonl_run(tmp_path / n / "metrics.jsonl", extra)) for n in ("a", "b")]


def one_error(capsys) -> str:
    return one_error_line(capsys.readouterr().err)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_compare_out_an_existing_file_is_one_line(two_runs, tmp_path, capsys):
    out = tmp_path / "notes.txt"
    out.write_text("mine")
    assert main(["compare", *two_runs, "--out", str(out)]) == 2
    assert "exists and is not a folder" in one_error(capsys)
    assert out.read_text() == "mine"


@pytest.mark.parametrize("command", ["compare", "report"])
def test_a_users_files_named_like_outputs_are_refused(two_runs, tmp_path, capsys, command):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("my notes")
    (out / "comparison.json").write_text("{}")
    (out / "figures").write_text("a file of mine named figures")
    before = snapshot(out)
    args = two_runs if command == "compare" else two_runs[:1]
    assert main([command, *args, "--out", str(out)]) == 2
    line = one_error(capsys)
    assert "holds files radiovae did not write (comparison.json, figures, report.md" in line
    assert snapshot(out) == before and sorted(p.name for p in tmp_path.iterdir()) == \
        ["a", "b", "out"]                                  # no temporary folder left beside it


def test_a_users_file_in_a_radiovae_folder_is_refused_too(two_runs, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compare", *two_runs, "--out", str(out)]) == 0
    assert main(["report", two_runs[0], "--out", str(out)]) == 0     # radiovae's: replaced
    capsys.readouterr()
    (out / "figures" / "my_plot.svg").write_text("<svg/>")
    before = snapshot(out)
    assert main(["compare", *two_runs, "--out", str(out)]) == 2
    assert "figures/my_plot.svg" in one_error(capsys)
    assert snapshot(out) == before


def test_figure_names_are_unique_and_captions_right(two_runs, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", *two_runs, "--out", str(out)]) == 0
    names = figure_names(["grad_norm", "grad:norm", "grad norm", "rec"])
    assert names["rec"] == "compare_rec"
    assert len({n.lower() for n in names.values()}) == 4
    pngs = {p.stem for p in (out / "figures").glob("*.png")}
    for key in ("grad_norm", "grad:norm", "grad norm"):
        assert names[key] in pngs
    md = (out / "report.md").read_text()
    for key in ("grad_norm", "grad:norm", "grad norm"):   # each figure under its own caption
        m = re.search(rf"!\[{re.escape(key)} of [^\]]*\]\(figures/{names[key]}\.png\)", md)
        assert m, (key, names[key])
    assert (out / ".radiovae-report").is_file()
