"""A disk that fills during training, at any byte: one line, exit 2, every checkpoint written
intact, no traceback from anywhere (a writer thread included), and the same command resumes once
space is freed.

The disk is simulated in the process: every file opened for writing below the run dir goes through
a raw file whose writes stop at a byte budget for the whole dir (a short write, then
OSError(ENOSPC), as write(2) on a full disk), under Python's own buffering. The budgets are put
inside the first write to each file of a run (config.yaml, train.log, metrics.jsonl, the event
file, a sample, a checkpoint), measured on an unlimited run first, so they follow the run's shape.
"""

from __future__ import annotations

import builtins
import errno
import gc
import io
import os
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml
from test_train_resume import SMALL as RESUME_SMALL

from radiovae.train import resume as R

# the resume tests' tiny run (16 x 16 maps, ch 8, GAN from step 4), 6 steps here
SMALL = {**RESUME_SMALL, "trainer": {**RESUME_SMALL["trainer"], "train_num_steps": 6}}


class Disk:
    """A byte budget for everything below ``root``; ``writes``: (file, bytes used before, size)."""

    def __init__(self, root: Path, budget: float = float("inf")):
        self.root, self.budget = str(root), budget
        self.writes: list[tuple[str, int, int]] = []

    def used(self) -> int:
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(self.root)
                   for f in files)

    def covers(self, file) -> bool:
        """``file`` (str, bytes - TensorBoard's own writer - or a path) lies below the root."""
        if not isinstance(file, (str, bytes, os.PathLike)):
            return False
        return (os.path.abspath(os.fsdecode(file)) + os.sep).startswith(self.root + os.sep)


def quota_file(disk: Disk):
    class QuotaFileIO(io.FileIO):
        def write(self, b) -> int:
            data = memoryview(b).cast("B")
            used = disk.used()
            grows = max(0, self.tell() + len(data) - os.fstat(self.fileno()).st_size)
            disk.writes.append((os.path.basename(os.fsdecode(self.name)), used, len(data)))
            room = disk.budget - used
            if grows > room:
                fits = len(data) - (grows - max(0, room))
                if fits <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                data = data[:int(fits)]
            return super().write(data)
    return QuotaFileIO


def install(monkeypatch, disk: Disk) -> None:
    """``open`` / ``io.open`` of a file below the disk's root, for writing: through the quota."""
    real_open, raw_class = io.open, quota_file(disk)

    def quota_open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None,
                   closefd=True, opener=None):
        if not disk.covers(file) or not set(mode) & set("wax+"):
            return real_open(file, mode, buffering, encoding, errors, newline, closefd, opener)
        raw = raw_class(file, mode.replace("b", "").replace("t", ""), closefd, opener=opener)
        if buffering == 0:
            return raw
        buffered = (io.BufferedRandom if "+" in mode else io.BufferedWriter)(raw)
        if "b" in mode:
            return buffered
        return io.TextIOWrapper(buffered, encoding, errors, newline, line_buffering=buffering == 1)

    monkeypatch.setattr(builtins, "open", quota_open)
    monkeypatch.setattr(io, "open", quota_open)


def train(tmp_path: Path, run: Path, monkeypatch, capsys, budget: float | None):
    """``radiovae train`` with the run dir on a disk of ``budget`` bytes: (status, stderr lines,
    exceptions that reached a thread's or the unraisable hook)."""
    from radiovae.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(SMALL))
    disk = Disk(run, float("inf") if budget is None else budget)
    run.mkdir(exist_ok=True)
    stray: list[str] = []
    with monkeypatch.context() as m:
        install(m, disk)
        m.setattr(threading, "excepthook", lambda a: stray.append(f"thread: {a.exc_value!r}"))
        m.setattr(sys, "unraisablehook", lambda a: stray.append(f"unraisable: {a.exc_value!r}"))
        before = set(threading.enumerate())
        status = main(["train", "--config", str(cfg), "--run-dir", str(run)])
        for t in set(threading.enumerate()) - before:   # a writer thread still failing
            t.join(timeout=2)
        gc.collect()                                     # files left open flush (and fail) here
    err = capsys.readouterr().err if capsys is not None else ""
    said = [line for line in err.splitlines() if any(
        w in line for w in ("radiovae", "Traceback", "Error", "Exception", "Errno"))]
    return status, said, stray, disk, err


@pytest.fixture(scope="module")
def timeline(tmp_path_factory):
    """Every write of an unlimited run: (file, bytes used before it, its size)."""
    tmp = tmp_path_factory.mktemp("unlimited")
    mp, threads = pytest.MonkeyPatch(), torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        status, _, stray, disk, _ = train(tmp, tmp / "run", mp, None, None)
    finally:
        mp.undo()
        torch.set_num_threads(threads)
    assert status == 0 and stray == [], stray
    return disk.writes


def _kind(name: str) -> str:
    name = name.lstrip(".")
    for kind in ("config.yaml", "train.log", "metrics.jsonl", "tfevents", "model-", "step-"):
        if kind in name:
            return kind
    return name


def budgets(writes) -> dict[str, int]:
    """Budgets that end the disk inside the first file of each kind (a checkpoint half-way
    through, any other file inside its first write), inside the second checkpoint, and inside
    the event file's second write (a logged step's scalars)."""
    files: dict[str, list[tuple[int, int]]] = {}     # name -> its writes (used before, size)
    for name, used, size in writes:
        files.setdefault(name, []).append((used, size))
    out: dict[str, int] = {"nothing": 0}
    for name, w in files.items():
        kind = _kind(name)
        if kind == "model-":
            out["model- #2" if kind in out else kind] = w[0][0] + sum(n for _, n in w) // 2
        elif kind not in out:
            out[kind] = w[0][0] + w[0][1] // 2
        if kind == "tfevents" and len(w) > 1:
            out["tfevents step"] = w[1][0] + w[1][1] // 2
    return out


def test_the_timeline_reaches_every_writer(timeline):
    assert set(budgets(timeline)) == {"nothing", "config.yaml", "train.log", "metrics.jsonl",
                                      "tfevents", "tfevents step", "model-", "model- #2",
                                      "step-"}


@pytest.mark.parametrize("where", ["nothing", "config.yaml", "train.log", "tfevents",
                                   "metrics.jsonl", "tfevents step", "step-", "model-",
                                   "model- #2"])
def test_full_disk_stops_training_with_one_line_and_resumes(where, timeline, tmp_path,
                                                            monkeypatch, capsys, one_torch_thread):
    budget = budgets(timeline)[where]
    run = tmp_path / "run"
    status, said, stray, disk, err = train(tmp_path, run, monkeypatch, capsys, budget)
    assert status == 2, err[-2000:]
    assert stray == [] and "Traceback" not in err and "Exception" not in err, err[-3000:]
    assert len(said) == 1 and said[0].startswith("radiovae: error: ") and (
        "no space left on device" in said[0]), said
    assert "rerun the same command" in said[0]
    assert disk.used() <= budget
    ckpts = sorted((run / "checkpoints").glob("model-*.pt")) if (run / "checkpoints").is_dir() else []
    for p in ckpts:                                           # every checkpoint written is whole
        assert R.problem(torch.load(p, weights_only=True), p) is None, p
    assert not [p.name for p in run.rglob("*.tmp-*")]         # no half-written temp file left
    assert all(p.stat().st_size for p in run.glob("tb/*"))    # nor an empty event file
    if where in ("tfevents", "model- #2"):                   # space freed: the same command resumes
        status, said, stray, _, err = train(tmp_path, run, monkeypatch, capsys, None)
        assert status == 0 and stray == [] and "Traceback" not in err, err[-3000:]
        from radiovae.runlog import load_run

        for source in (run, run / "tb", run / "train.log"):
            got = load_run(source)
            assert list(got.table["step"]) == list(range(6)), source
            assert got.skipped_lines == 0, got.notes   # its own config notes are not bad lines


# -- the event file is TensorBoard's -----------------------------------------------------------

def test_events_are_what_tensorboard_reads_and_a_resume_purges_the_abandoned_steps(tmp_path,
                                                                                   monkeypatch):
    """radiovae writes its event files itself (no writer thread): TensorBoard's own loader reads
    them, each logged term at its step with metrics.jsonl's time, and a resume from step 3 hides
    the first file's steps >= 3, as SummaryWriter's purge_step does."""
    import json
    import math

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from radiovae.train import events as E
    from radiovae.train.records import RunDirWriter

    monkeypatch.setattr(E, "_UID", iter(range(9, 11)))   # ...9, then ...10 in the same second
    monkeypatch.setattr(E, "time", SimpleNamespace(time=lambda: 1.75e9))
    rec = RunDirWriter(tmp_path, {"trainer": {}}, 10)
    for s in range(5):
        rec.log(s, {"train/rec_loss": s * 1.5, "lr": math.nan if s == 1 else 0.25})
    rec.close()
    rec = RunDirWriter(tmp_path, {"trainer": {}}, 10, start_step=3)
    for s in range(3, 6):
        rec.log(s, {"train/rec_loss": s * 10.0, "lr": 0.5})
    rec.close()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    got = {e.step: (e.value, e.wall_time) for e in events.Scalars("train/rec_loss")}
    assert {s: v for s, (v, _) in got.items()} == {0: 0.0, 1: 1.5, 2: 3.0, 3: 30.0, 4: 40.0,
                                                   5: 50.0}
    lr = {e.step: e.value for e in events.Scalars("lr")}
    assert math.isnan(lr[1]) and lr[2] == 0.25 and lr[3] == lr[5] == 0.5
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(6))
    assert all(got[r["step"]][1] == r["time"] for r in rows)
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 2


def test_a_failed_event_write_leaves_only_whole_records(tmp_path, monkeypatch):
    """The disk fills inside a step's events: the file is cut back to its last whole record and
    the OSError reaches the caller (TensorBoard reads every earlier step)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from radiovae.train.events import EventFile

    disk = Disk(tmp_path)
    install(monkeypatch, disk)
    tb = EventFile(tmp_path / "tb")
    tb.add_scalars(0, {"a": 1.0, "b": 2.0})
    whole = tb.path.read_bytes()
    disk.budget = disk.used() + 30                   # the next step's events do not fit
    with pytest.raises(OSError) as info:
        tb.add_scalars(1, {"a": 3.0, "b": 4.0})
    assert info.value.errno == errno.ENOSPC
    assert tb.path.read_bytes() == whole             # as a run that stops here leaves it
    disk.budget = float("inf")                       # space freed: the next step is written whole
    tb.add_scalars(2, {"a": 5.0, "b": 6.0})
    tb.close()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("a")] == [(0, 1.0), (2, 5.0)]
