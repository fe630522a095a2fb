"""Issue 17's families for ``hostile_inputs.py``: damage that used to pass unsaid, run folders left
through links, outputs that overwrote a user's files, clocks that run backwards (the
``integrity`` area, run like every other area), and the memory / time budget (``--budget``: each
case's peak resident memory and time, measured per child process with ``wait4``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

BUDGET_MB = 2048


def _hi():
    import hostile_inputs as H  # the probe's own helpers (imported late: it imports us)
    return H


# -- integrity cases -------------------------------------------------------------------------------
def integrity_cases() -> list:
    H = _hi()
    Case, write, rep = H.Case, H.write, H.rep
    c: list = []

    def tb(where: str) -> Callable[[Path], list[str]]:
        def build(d: Path) -> list[str]:
            from tensorboard.compat.proto.event_pb2 import Event
            from tensorboard.compat.proto.summary_pb2 import Summary
            from tensorboard.summary.writer.event_file_writer import EventFileWriter

            w = EventFileWriter(str(d / "tb"))
            for s in range(20):
                w.add_event(Event(wall_time=1.7e9 + s, step=10 * s, summary=Summary(value=[
                    Summary.Value(tag="train/total_loss", simple_value=1.0 / (s + 1))])))
            w.close()
            path = next((d / "tb").glob("events.out.tfevents.*"))
            data = bytearray(path.read_bytes())
            pos = 0
            for _ in range(11):   # to the record of the 11th event (the first is the version)
                pos += 16 + struct.unpack("<Q", data[pos:pos + 8])[0]
            n = struct.unpack("<Q", data[pos:pos + 8])[0]
            at = {"length crc": pos + 9, "data crc": pos + 12 + n, "payload": pos + 12 + n // 2}
            data[at[where]] ^= 0x40
            path.write_bytes(bytes(data))
            return rep(path)
        return build

    def damage_said(o) -> str | None:
        if o.summary is None or o.summary.get("records") != 19:
            return f"{(o.summary or {}).get('records')} records, expected 19"
        notes = " ".join(n.get("what", "") for n in o.summary.get("read_notes") or [])
        return None if "TensorBoard record at byte" in notes else "damage not in the notes"

    for where in ("length crc", "data crc", "payload"):
        c.append(Case("integrity", f"TensorBoard: one damaged record ({where})", tb(where),
                      damage_said, "ok"))

    def csv_run(d: Path) -> Path:
        write(d / "run" / "metrics.csv", H.csv_text(range(0, 1000, 10)))
        return d / "run"

    def wandb_run(folder: Path) -> None:
        rows = [json.dumps({"_step": i, "_timestamp": 1.7e9 + i, "trainer/global_step": s,
                            "train/total_loss": 9.0}) for i, s in enumerate(range(0, 500, 10))]
        write(folder / "files" / "wandb-history.jsonl", "\n".join(rows) + "\n")

    def link_out(d: Path) -> list[str]:
        wandb_run(d / "wb")
        run = csv_run(d)
        (run / "ext").symlink_to(d / "wb")
        return rep(run)

    def own_log(o) -> str | None:
        segs = [s.get("source", "") for s in (o.summary or {}).get("segments") or []]
        notes = " ".join(n.get("what", "") for n in (o.summary or {}).get("read_notes") or [])
        if len(segs) != 1 or not segs[0].endswith("metrics.csv"):
            return f"read {segs}, not the folder's own metrics.csv"
        return None if "not followed" in notes else "the link left out is not said"

    c.append(Case("integrity", "run folder with ext -> ../wb (a W&B run elsewhere)", link_out,
                  own_log, "ok"))

    def link_root(d: Path) -> list[str]:
        run = csv_run(d)
        (run / "root").symlink_to("/")
        (run / "loop").symlink_to(run)
        return rep(run)

    c.append(Case("integrity", "run folder with root -> / and loop -> .", link_root, own_log,
                  "ok", 60))

    def beside(d: Path) -> list[str]:
        run = csv_run(d)
        wandb_run(run / "sub" / "wandb" / "run-1")
        return rep(run)

    def both_named(o) -> str | None:
        return None if "W&B run" in o.err and "metrics.csv" in o.err else o.err.strip()[:160]

    c.append(Case("integrity", "a log beside another logger's run (sub/wandb/run-1)", beside,
                  both_named, "error"))

    def two_runs(d: Path) -> list[str]:
        extra = {"grad_norm": 1.0, "grad:norm": 2.0, "grad norm": 3.0}
        out = []
        for name in ("a", "b"):
            rows = [json.dumps({"step": s, "time": 1.7e9 + s, "train/total_loss": 1 / (s + 1),
                                **{k: v * s for k, v in extra.items()}}) for s in range(0, 500, 10)]
            out.append(str(write(d / name / "metrics.jsonl", "\n".join(rows) + "\n")))
        return out

    def compare_out_file(d: Path) -> list[str]:
        write(d / "mine.txt", "mine")
        return ["compare", *two_runs(d), "--out", str(d / "mine.txt")]

    def kept(*names: str) -> Callable:
        def check(o) -> str | None:
            for n in names:
                if not (o.dir / n).exists():
                    return f"{n} was removed"
            if (o.dir / "mine.txt").exists() and (o.dir / "mine.txt").read_text() != "mine":
                return "mine.txt was overwritten"
            left = [p.name for p in o.dir.rglob(".*.tmp-*")]
            return f"temporary folders left: {left}" if left else None
        return check

    c.append(Case("integrity", "compare --out an existing file", compare_out_file,
                  kept("mine.txt"), "error"))

    def compare_users_folder(d: Path) -> list[str]:
        write(d / "out" / "report.md", "my notes")
        write(d / "out" / "comparison.json", "{}")
        return ["compare", *two_runs(d), "--out", str(d / "out")]

    def users_files_kept(o) -> str | None:
        if (o.dir / "out" / "report.md").read_text() != "my notes":
            return "the user's report.md was overwritten"
        return kept()(o)

    c.append(Case("integrity", "compare --out a folder of the user's report.md, comparison.json",
                  compare_users_folder, users_files_kept, "error"))

    def figures_file(d: Path) -> list[str]:
        write(d / "out" / "figures", "a file of mine")
        return rep(write(d / "m.jsonl", H.jsonl_text(range(0, 1000, 10))), "--out",
                   str(d / "out"))

    c.append(Case("integrity", "report --out holding the user's file named figures", figures_file,
                  kept("out/figures"), "error"))

    def colliding(d: Path) -> list[str]:
        return ["compare", *two_runs(d), "--out", str(d / "cmp")]

    def three_figures(o) -> str | None:
        pngs = sorted(p.name for p in (o.dir / "cmp" / "figures").glob("compare_grad*norm*.png"))
        return None if len(pngs) == 3 else f"figures {pngs}"

    c.append(Case("integrity", "compare: train_loss / train:loss / train loss figure names",
                  colliding, three_figures, "ok", 120))

    def clock_back(d: Path) -> list[str]:
        rows = [json.dumps({"step": s, "time": 1.7e9 + 2 * s - (25 * 3600 if s >= 300 else 0),
                            "train/total_loss": 1 / (s + 1)}) for s in range(0, 600, 10)]
        return rep(write(d / "m.jsonl", "\n".join(rows) + "\n"))

    def forward_only(o) -> str | None:
        notes = " ".join(n.get("what", "") for n in (o.summary or {}).get("read_notes") or [])
        return None if "the clock went back 1 time(s)" in notes else "the jump is not noted"

    c.append(Case("integrity", "a clock set back 25 h mid-run", clock_back, forward_only, "ok"))

    def flip(path: Path) -> None:
        with zipfile.ZipFile(path) as z:
            info = max((i for i in z.infolist() if "/data/" in i.filename),
                       key=lambda i: i.file_size)
        raw = bytearray(path.read_bytes())
        head = info.header_offset
        start = head + 30 + int.from_bytes(raw[head + 26:head + 28], "little") + \
            int.from_bytes(raw[head + 28:head + 30], "little") + info.file_size // 2 - 32
        for i in range(start, start + 64):
            raw[i] ^= 0x5A
        path.write_bytes(bytes(raw))

    def train_then_damage(d: Path) -> list[str]:
        write(d / "c.json", json.dumps(H.SMALL_TRAIN))
        args = [sys.executable, "-m", "radiovae", "train", "--config", str(d / "c.json"),
                "--run-dir", str(d / "run"), "--max-steps", "6"]
        subprocess.run(args, capture_output=True, timeout=300, check=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
        flip(d / "run" / "checkpoints" / "model-6.pt")
        return ["train", "--config", str(d / "c.json"), "--run-dir", str(d / "run")]

    def skipped_damaged(o) -> str | None:
        return None if "model-6.pt is damaged" in o.out else "the damaged checkpoint is not said"

    c.append(Case("integrity", "resume past a checkpoint with 64 flipped tensor bytes",
                  train_then_damage, skipped_damaged, "ok", 300, noise=H.PROGRESS))

    def export_damaged(d: Path) -> list[str]:
        train_then_damage(d)
        return ["export", str(d / "run" / "checkpoints" / "model-6.pt"), str(d / "x"),
                "--format", "radiodiff"]

    c.append(Case("integrity", "export a checkpoint with flipped tensor bytes", export_damaged,
                  lambda o: None if "is damaged" in o.err else o.err[:160], "error", 300))
    return c


# -- memory and time budget ------------------------------------------------------------------------
def _measure(args: list[str], cwd: Path, timeout: float = 900) -> tuple[int | None, float, float]:
    """(exit status or None if killed at ``timeout``, seconds, peak RSS in MB) of one child."""
    t0 = time.perf_counter()
    with open(cwd / "stdout", "wb") as out, open(cwd / "stderr", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "radiovae", *args], cwd=cwd, stdout=out,
                                stderr=err, start_new_session=True,
                                env={**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"})
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    rc = None if proc.returncode == -signal.SIGKILL else proc.returncode
    return rc, time.perf_counter() - t0, usage.ru_maxrss / 1024


CASES = {
    "JSONL, 10^6 distinct metric names": ["names.jsonl"],
    "RadioDiff log, 10^5 metric names": ["names.log"],
    "one 24 MB JSON line of 1.5 M keys": ["wide.jsonl"],
    "CSV, 10^5 columns x 20 rows": ["wide.csv"],
    "RadioDiff log of 40k steps, 1 segment": ["segments_one"],
    "the same in 2,000 segments": ["segments_many"],
}


def _inputs(d: Path) -> None:
    """The issue's reproducers (:data:`CASES`), written into ``d``. Run in a child process: a
    process's peak RSS is inherited by the processes it starts (Linux keeps ``maxrss`` across
    fork and exec), so the measuring process must stay small."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    H = _hi()
    from datetime import timedelta

    from radiovae.runlog.radiodiff_log import format_radiodiff_lines

    d.mkdir(parents=True, exist_ok=True)
    with open(d / "names.jsonl", "w") as f:
        for i in range(10 ** 6):
            f.write(f'{{"step": {i}, "m{i}": 1.0}}\n')
    with open(d / "names.log", "w") as f:
        for i in range(10 ** 5):
            for ln in format_radiodiff_lines(i, 10 ** 5, {"train/total_loss": 1.0,
                                                          f"train/m{i}": 1.0}, None,
                                             H.START + timedelta(seconds=i)):
                f.write(ln + "\n")
    with open(d / "wide.jsonl", "w") as f:
        row = {"step": 0, **{f"k{i}": 0.5 for i in range(1_500_000)}}
        f.write(json.dumps(row) + "\n" + json.dumps({"step": 1, "k0": 0.25}) + "\n")
    with open(d / "wide.csv", "w") as f:
        f.write("step," + ",".join(f"c{j}" for j in range(10 ** 5)) + "\n")
        for r in range(20):
            f.write(f"{r}," + ",".join("0.5" for _ in range(10 ** 5)) + "\n")
    for n, name in ((1, "one"), (2000, "many")):
        folder = d / f"segments_{name}"
        folder.mkdir()
        per = 40_000 // n
        for i in range(n):
            (folder / f"train_{i:04d}.log").write_text(
                H.log_text(range(i * per, (i + 1) * per), total=40_000))


def budget(root: Path) -> int:
    """Print each case's exit status, time and peak RSS; 1 when one exceeds the budget."""
    subprocess.run([sys.executable, __file__, str(root / "inputs")], check=True)
    cases = CASES
    print(f"\n{'case':<42} {'exit':>4} {'time s':>8} {'peak MB':>8}   (budget {BUDGET_MB} MB)")
    over = 0
    times: dict[str, float] = {}
    for name, files in cases.items():
        work = root / name.replace(" ", "_").replace("/", "_").replace(",", "")
        work.mkdir()
        rc, secs, peak = _measure(["report", *[str(root / "inputs" / f) for f in files],
                                   "--out", str(work / "out")], work)
        times[name] = secs
        over += peak > BUDGET_MB or rc not in (0, 2)
        print(f"{name:<42} {rc!s:>4} {secs:8.1f} {peak:8.0f}", flush=True)
        shutil.rmtree(work / "out", ignore_errors=True)
    one, many = times["RadioDiff log of 40k steps, 1 segment"], times["the same in 2,000 segments"]
    print(f"2,000 segments / 1 segment of the same records: {many / one:.1f}x")
    return 1 if over else 0


if __name__ == "__main__":   # the inputs, written by a child of the measuring process
    _inputs(Path(sys.argv[1]))
