"""RunFollower: incremental reading equals reading everything at once; it reads only new bytes."""

from __future__ import annotations

import os
import re

import pandas as pd
import pytest
from logfactory import write_radiodiff_logs

from radiovae import load_run
from radiovae.errors import UserError
from radiovae.runlog import readers
from radiovae.runlog.follow import RunFollower


@pytest.fixture(scope="module")
def logs(real_run_csv, tmp_path_factory):
    return write_radiodiff_logs(real_run_csv, tmp_path_factory.mktemp("logs"), cut_last=False)


def _logged_steps(data: bytes) -> set[int]:
    """The steps of the whole "[Train Step]" lines in ``data`` (a cut last line is not whole)."""
    return {int(m) for m in re.findall(rb"\[Train Step\] (\d+)/", data[:data.rfind(b"\n") + 1])}


def test_growing_log_with_cut_writes_and_a_resume_file(logs, tmp_path, monkeypatch):
    first, second = (p.read_bytes() for p in logs)
    parsed: list[int] = []
    real_parse = readers.parse_radiodiff
    monkeypatch.setattr(readers, "parse_radiodiff",
                        lambda data, final=True, **kw: parsed.append(len(data))
                        or real_parse(data, final, **kw))
    d = tmp_path / "results"
    d.mkdir()
    f = RunFollower(d)
    with pytest.raises(UserError, match="no training records yet"):
        f.poll()
    a = d / "train_a.log"
    a.write_bytes(first[:777])                       # the cfg line and half a record
    with pytest.raises(UserError, match="no training records yet"):
        f.poll()
    cuts = sorted([777, 20_001, 20_002, 150_000, len(first) // 2, len(first)])  # mid-line cuts
    new_rows = []
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        with open(a, "ab") as fh:
            fh.write(first[lo:hi])
        run = f.poll()
        new_rows.append(f.new_rows)
    assert sum(parsed) <= len(first)                 # every byte parsed at most once
    # a step is a row once one of its lines is whole: each poll adds the steps its bytes completed
    whole = [len(_logged_steps(first[:hi])) for hi in cuts]
    assert new_rows == [b - a for a, b in zip(whole[:-1], whole[1:], strict=True)]
    assert 0 in new_rows and sum(new_rows) == len(run.table) == 570   # steps 35,000-91,900
    assert run.table["step"].iloc[-1] == 91900
    assert f.poll() is run and f.new_rows == 0       # nothing new: same Run, no work
    b = d / "train_b.log"                            # the resumed run starts a new file
    b.write_bytes(second[:len(second) // 3])
    f.poll()
    with open(b, "ab") as fh:
        fh.write(second[len(second) // 3:])
    run = f.poll()
    whole = load_run(logs)
    pd.testing.assert_frame_equal(run.table, whole.table)
    assert [r["step"] for r in run.resumes] == [90000]
    assert len(run.segments) == 2


def test_truncated_or_replaced_file_is_read_again(logs, tmp_path):
    first = logs[0].read_bytes()
    a = tmp_path / "train.log"
    a.write_bytes(first)
    f = RunFollower(a)
    assert f.poll().table["step"].iloc[-1] == 91900
    a.write_bytes(first[: len(first) // 4])          # truncated in place (log rotation)
    run = f.poll()
    assert run.table["step"].iloc[-1] < 91900
    pd.testing.assert_frame_equal(run.table, load_run(a).table)
    tmp = tmp_path / "new.log"
    tmp.write_bytes(first)
    os.replace(tmp, a)                               # replaced by a new file
    pd.testing.assert_frame_equal(f.poll().table, load_run(a).table)


def test_jsonl_run_dir_follow(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / "config.yaml").write_text("trainer:\n  train_num_steps: 500\n")
    with open(d / "metrics.jsonl", "w") as fh:
        fh.write('{"step": 0, "time": 1.0, "train/rec_loss": 1.0}\n{"step": 100, "ti')
    f = RunFollower(d)
    assert f.poll().table["step"].tolist() == [0]
    with open(d / "metrics.jsonl", "a") as fh:
        fh.write('me": 2.0, "train/rec_loss": 0.5}\n')
    run = f.poll()
    assert run.table["step"].tolist() == [0, 100] and run.config["total_steps"] == 500


def test_growing_csv_keeps_its_header(real_run_csv, tmp_path):
    text = real_run_csv.read_bytes()
    path = tmp_path / "metrics.csv"
    path.write_bytes(text[:5000])
    f = RunFollower(path)
    first = len(f.poll().table)
    with open(path, "ab") as fh:
        fh.write(text[5000:])
    run = f.poll()
    assert 0 < first < 1150 and len(run.table) == 1150
    pd.testing.assert_frame_equal(run.table, load_run(real_run_csv).table)
