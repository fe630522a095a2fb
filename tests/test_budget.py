"""Bounded memory: a source keeps at most MAX_METRICS metrics (the most complete first) and at
most MAX_CELLS values; what is not kept is counted and named in the notes; a table that would
still exceed the budget is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radiovae.errors import UserError
from radiovae.runlog import budget, load_run
from radiovae.runlog.chunks import read_records


def wide_jsonl(path: Path, rows: int = 5, full: int = 2000, sparse: int = 100) -> Path:
    """``full`` metrics in every row; ``sparse`` more, each in one row only (written first, so
    file order alone would keep them)."""
    lines = []
    for s in range(rows):
        row = {"step": s}
        row.update({f"sparse{j}": 1.0 for j in range(sparse) if j % rows == s})
        row.update({f"full{j}": float(s + j) for j in range(full)})
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_most_complete_metrics_are_kept_and_the_rest_named(tmp_path):
    run = load_run(wide_jsonl(tmp_path / "m.jsonl"))
    metrics = [c for c in run.table.columns if c not in ("step", "time")]
    assert len(metrics) == budget.MAX_METRICS == 2000
    assert all(m.startswith("full") for m in metrics)
    assert run.table["full7"].tolist() == [7.0, 8.0, 9.0, 10.0, 11.0]
    note = [n["what"] for n in run.notes if "not kept" in n["what"]]
    assert len(note) == 1 and note[0].startswith("100 metric(s) not kept (100 values)")
    assert "'sparse0'" in note[0]


def test_csv_too_wide_is_capped_the_same_way(tmp_path):
    cols = [f"c{j}" for j in range(2050)]
    text = "step," + ",".join(cols) + "\n" + "".join(
        f"{s}," + ",".join("" if (j >= 2000 and s) else "1.5" for j in range(2050)) + "\n"
        for s in range(4))
    (tmp_path / "w.csv").write_text(text)
    run = load_run(tmp_path / "w.csv")
    kept = [c for c in run.table.columns if c not in ("step", "time")]
    assert kept == cols[:2000]                       # c2000... have one value each: dropped
    assert any(n["what"].startswith("50 metric(s) not kept") for n in run.notes)


def test_choice_holds_across_chunks(tmp_path):
    path = wide_jsonl(tmp_path / "m.jsonl", rows=40, full=2000, sparse=300)
    whole = read_records(path, "jsonl")
    chunked = read_records(path, "jsonl", chunk_size=200_000)   # ~5 rows a chunk
    assert list(whole.table.columns) == list(chunked.table.columns)
    assert whole.note_count == chunked.note_count == 1


def test_too_many_values_are_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(budget, "MAX_CELLS", 1000)
    path = tmp_path / "long.jsonl"
    path.write_text("".join(json.dumps({"step": s, "a": 1.0, "b": 2.0}) + "\n"
                            for s in range(2000)))
    with pytest.raises(UserError, match=r"long.jsonl: [\d,]+ records of 2 metrics are more values "
                                        r"than radiovae holds in memory \(1,000\)"):
        read_records(path, "jsonl", chunk_size=10_000)


def test_many_sources_share_one_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(budget, "MAX_METRICS", 3)
    paths = []
    for i in range(4):                               # "a" everywhere, "b" in two, c/d in one
        names = ["a"] + (["b"] if i < 2 else []) + ([f"x{i}"] if i >= 2 else [])
        p = tmp_path / f"s{i}.jsonl"
        p.write_text("".join(json.dumps({"step": 10 * i + s, "time": 1e9 + 10 * i + s,
                                         **{n: 1.0 for n in names}}) + "\n" for s in range(3)))
        paths.append(p)
    run = load_run(paths)
    assert sorted(c for c in run.table.columns if c not in ("step", "time")) == ["a", "b", "x2"]
    assert any("1 metric(s) not kept" in n["what"] and "'x3'" in n["what"] for n in run.notes)
