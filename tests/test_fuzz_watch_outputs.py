"""watch follows rotation and ends with the run's last record; reports are replaced whole.

Issue 9's probe: following a rotated file dropped the rotated file's rows (200 of 400); watch
ended at step 20 of 24 ("done" one log interval early); two reports into one --out could mix;
a bad --out or a full disk gave tracebacks and half-written output; evaluation.json's grid path
could pull a file from outside the run dir into the report.
"""

from __future__ import annotations

import errno
import json
import os
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers import write_run_dir

from radiovae.analysis import analyze
from radiovae.cli import main
from radiovae.errors import UserError
from radiovae.report import write as W
from radiovae.report.watch import Watcher, training_done, watch_loop
from radiovae.runlog import format_radiodiff_lines, load_run
from radiovae.runlog.follow import RunFollower

START = datetime(2025, 8, 15, 20, 41, 7)


def log_lines(steps, total: int = 2000, cfg: bool = False, log_freq: int = 10) -> str:
    out = [f"2025-08-15 20:41:00,000 {{'trainer': {{'train_num_steps': {total}, "
           f"'log_freq': {log_freq}}}}}"] if cfg else []
    for s in steps:
        gen = {"train/total_loss": 900 - s / 10, "train/rec_loss": 0.03, "lr": 5e-6}
        disc = {"train/disc_loss": 0.9, "lr": 5e-6}
        out += format_radiodiff_lines(s, total, gen, disc, START + timedelta(seconds=s))
    return "".join(x + "\n" for x in out)


def jsonl_rows(steps) -> str:
    return "".join(json.dumps({"step": s, "time": START.timestamp() + s,
                               "train/rec_loss": 1.0 / (s + 1)}) + "\n" for s in steps)


# -- rotation -------------------------------------------------------------------------------------

def test_rotation_by_rename_keeps_the_rotated_records(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(log_lines(range(0, 1000, 10), cfg=True))
    f = RunFollower(log)
    assert len(f.poll().table) == 100
    with log.open("a") as fh:                        # written after the last poll, then rotated
        fh.write(log_lines(range(1000, 1200, 10)))
    os.rename(log, tmp_path / "train.log.1")
    assert len(f.poll().table) == 120                # read to its end through the held handle
    log.write_text(log_lines(range(1200, 2000, 10)))
    run = f.poll()
    assert list(run.table["step"]) == list(range(0, 2000, 10))
    assert run.config["total_steps"] == 2000 and len(run.segments) == 2
    f.close()


def test_copytruncate_keeps_the_records_read(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(log_lines(range(0, 1000, 10), cfg=True))
    f = RunFollower(log)
    f.poll()
    (tmp_path / "train.log.1").write_bytes(log.read_bytes())
    with log.open("r+") as fh:
        fh.truncate(0)
    with log.open("a") as fh:
        fh.write(log_lines(range(1000, 1500, 10)))
    assert list(f.poll().table["step"]) == list(range(0, 1500, 10))
    f.close()


@pytest.mark.parametrize("how", ["rename", "copytruncate"])
def test_rotated_file_in_a_followed_directory_is_not_read_twice(tmp_path, how):
    d = tmp_path / "logs"
    d.mkdir()
    log = d / "train.log"
    log.write_text(log_lines(range(0, 1000, 10), cfg=True))
    f = RunFollower(d)
    f.poll()
    if how == "rename":
        os.rename(log, d / "train.log.1")
    else:
        (d / "train.log.1").write_bytes(log.read_bytes())
        with log.open("r+") as fh:
            fh.truncate(0)
    log.write_text(log_lines(range(1000, 1500, 10)))
    run = f.poll()
    assert list(run.table["step"]) == list(range(0, 1500, 10))
    assert len(run.segments) == 2 and all(r["overlap_steps"] == 0 for r in run.resumes)
    assert run.table.equals(load_run(d).table)        # as a report of the files on disk
    f.close()


# -- the end of the run ---------------------------------------------------------------------------

def test_radiodiff_log_is_done_at_its_last_logged_step_not_one_interval_early(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(log_lines(range(0, 1990, 10), total=2000, cfg=True))
    run = load_run(log)
    assert not training_done(analyze(run), run)      # 1,980: one interval before the last
    log.write_text(log_lines(range(0, 2000, 10), total=2000, cfg=True))
    run = load_run(log)
    assert training_done(analyze(run), run)          # 1,990: RadioDiff's last logged step


def test_radiovae_run_dir_waits_for_the_end_marker(tmp_path):
    """radiovae logs 0, 5, ..., 20 and the last step 23 of 24: done only at its end marker."""
    run_dir = write_run_dir(tmp_path / "run", jsonl_rows([0, 5, 10, 15, 20]),
                            "trainer:\n  train_num_steps: 24\n  log_freq: 5\n")
    run = load_run(run_dir)
    assert not training_done(analyze(run), run)      # was: done at 20 >= 24 - 5
    with (run_dir / "metrics.jsonl").open("a") as fh:
        fh.write(jsonl_rows([23]) + '{"event": "end", "step": 24, "stopped": "done"}\n')
    run = load_run(run_dir)
    assert run.end == {"step": 24, "stopped": "done", "source": str(run_dir / "metrics.jsonl")}
    assert training_done(analyze(run), run) and len(run.table) == 6 and run.skipped_lines == 0


def test_watch_ends_on_the_marker_with_the_last_record_in_the_report(tmp_path):
    run_dir = write_run_dir(tmp_path / "run", jsonl_rows([0, 5, 10, 15, 20]),
                            "trainer:\n  train_num_steps: 24\n  log_freq: 5\n")
    out = tmp_path / "out"
    watcher = Watcher(run_dir, out, figure_period=3600)
    writes = []

    def trainer():                                   # the last record and the marker arrive
        with (run_dir / "metrics.jsonl").open("a") as fh:
            fh.write(jsonl_rows([23]) + '{"event": "end", "step": 24, "stopped": "done"}\n')

    real = watcher.refresh

    def refresh(force_figures=False):
        u = real(force_figures)
        writes.append(u.summary.steps.last if u.summary else None)
        if len(writes) == 2:
            trainer()
        return u
    watcher.refresh = refresh
    summary = watch_loop(watcher, interval=0.01, max_refreshes=50, live=False)
    # two refreshes before the marker, the one that finds it, and the last one (with figures)
    assert writes == [20, 20, 23, 23] and summary.steps.last == 23
    assert json.loads((out / "summary.json").read_text())["steps"]["last"] == 23
    assert json.loads((out / "summary.json").read_text())["end"]["stopped"] == "done"


# -- outputs ---------------------------------------------------------------------------------------

@pytest.fixture
def records(tmp_path) -> Path:
    path = tmp_path / "m.jsonl"
    path.write_text(jsonl_rows(range(0, 500, 10)))
    return path


@pytest.mark.parametrize("make_out", [
    lambda d: (d / "f").write_text("x") and d / "f",
    lambda d: (d / "f").write_text("x") and d / "f" / "sub",
    lambda d: [(d / "mine").mkdir(), (d / "mine" / "thesis.tex").write_text("x")] and d / "mine",
    lambda d: Path("/dev/null/out"),
])
def test_bad_out_is_one_line_exit_2_and_changes_nothing(tmp_path, capsys, records, make_out):
    out = make_out(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(["report", str(records), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("radiovae: error: --out") and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_full_disk_leaves_the_previous_report_and_no_temp_files(tmp_path, records, monkeypatch):
    out = tmp_path / "out"
    run = load_run(records)
    summary = analyze(run)
    W.write_report(run, summary, out, progress=False, figures=False)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def full(path, data, fsync=True):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    monkeypatch.setattr(W, "atomic_write_bytes", full)
    with pytest.raises(UserError, match="No space left on device.*nothing was changed"):
        W.write_report(run, summary, out, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.jsonl", "out"]   # no temp folder


def test_report_replaces_the_previous_one_whole_and_readers_never_see_a_mix(tmp_path, records):
    out = tmp_path / "out"
    short = load_run(records)
    long_path = tmp_path / "long.jsonl"
    long_path.write_text(jsonl_rows(range(0, 900, 10)))
    long = load_run(long_path)
    W.write_report(short, analyze(short), out, progress=False, figures=False)
    (out / "figures").mkdir(exist_ok=True)
    (out / "figures" / "stale.png").write_bytes(b"x")
    mixed, seen, stop = [], set(), threading.Event()

    def reader():                                    # reads both files of one folder
        while not stop.is_set():
            try:
                fd = os.open(out, os.O_RDONLY)
            except OSError:
                continue                             # between two renames (non-Linux only)
            try:
                def at(name, flags, fd=fd):
                    return os.open(name, flags, dir_fd=fd)
                with open("summary.json", opener=at) as fh:
                    last = json.load(fh)["steps"]["last"]
                with open("report.md", opener=at) as fh:
                    md = fh.read()
            except OSError:
                continue                             # that folder was replaced and removed
            finally:
                os.close(fd)
            seen.add(last)
            if f"{last:,}" not in md:
                mixed.append(last)
    t = threading.Thread(target=reader)
    t.start()
    try:
        for k in range(6):
            run = (short, long)[k % 2]
            W.write_report(run, analyze(run), out, progress=False, figures=False)
    finally:                                         # a failed write must not leave it running
        stop.set()
        t.join()
    assert seen and not mixed and not (out / "figures" / "stale.png").exists()   # read, never mixed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.jsonl", "m.jsonl", "out"]


def test_evaluation_grid_must_lie_inside_the_run_dir(tmp_path):
    from PIL import Image

    Image.new("RGB", (8, 8), (255, 0, 0)).save(tmp_path / "secret.png")
    run_dir = tmp_path / "run"
    (run_dir / "eval").mkdir(parents=True)
    (run_dir / "metrics.jsonl").write_text(jsonl_rows(range(0, 200, 10)))
    Image.new("RGB", (8, 8), (0, 0, 255)).save(run_dir / "eval" / "grid.png")
    os.symlink(tmp_path / "secret.png", run_dir / "eval" / "link.png")
    for grid, copied in [("../secret.png", False), (str(tmp_path / "secret.png"), False),
                         ("eval/link.png", False), ("eval/grid.png", True), (["x"], False)]:
        (run_dir / "evaluation.json").write_text(json.dumps({"grid": grid, "nmse": 0.01}))
        run = load_run(run_dir)
        out = tmp_path / f"out-{copied}-{len(str(grid))}"
        W.write_report(run, analyze(run), out, progress=False, figures=False)
        assert (out / "figures" / "eval_grid.png").is_file() == copied, grid
