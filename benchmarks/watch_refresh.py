"""Benchmark: the incremental re-read behind ``radiovae watch`` after 1,000 new lines on a 1M-line log.

A 1M-line RadioDiff log (500k steps, two lines each) is written to a temporary folder and read once
by ``RunFollower.poll()``; then 1,000 lines (500 steps) are appended, ``poll()`` is timed, and this
is repeated. Target: the re-read (``poll``) <= 0.3 s; the script exits 1 above it. For where a whole
watch refresh goes, the same run's ``analyze()`` and a text-only ``Watcher.refresh()`` (poll +
analysis + the report's text) are timed too, and a full first read as the baseline.

Run: .venv/bin/python benchmarks/watch_refresh.py [--steps 500000] [--refreshes 5] [--no-watcher]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from read_log import log_lines, write_log

from radiovae.runlog.follow import RunFollower

TARGET_S = 0.3


def _append(path: Path, first: int, steps: int, total: int) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n".join(log_lines(first, steps, total)) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=500_000, help="steps in the log (2 lines each)")
    ap.add_argument("--refreshes", type=int, default=5)
    ap.add_argument("--no-watcher", action="store_true",
                    help="skip the whole-refresh figures (analysis and report text)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "train.log"
        t = time.perf_counter()
        total = 2 * args.steps                       # the run is half-way: still training
        write_log(log, args.steps, total)
        print(f"log: {2 * args.steps + 1:,} lines, {log.stat().st_size / 1e6:.0f} MB "
              f"(written in {time.perf_counter() - t:.1f} s)")
        follower = RunFollower(log)
        c0, t0 = time.process_time(), time.perf_counter()
        run = follower.poll()
        print(f"first poll (the whole log): {time.perf_counter() - t0:.2f} s wall, "
              f"{time.process_time() - c0:.2f} CPU-s, {len(run.table):,} rows")
        step = args.steps
        walls, cpus = [], []
        for _ in range(args.refreshes):
            _append(log, step, 500, total)                    # 500 steps = 1,000 lines
            c0, t0 = time.process_time(), time.perf_counter()
            run = follower.poll()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            assert run.table["step"].iloc[-1] == step + 499 and follower.new_rows == 500
            step += 500
        poll = statistics.median(walls)
        print(f"poll() after 1,000 new lines: median {poll * 1000:.0f} ms wall (max "
              f"{max(walls) * 1000:.0f}), {statistics.median(cpus) * 1000:.0f} ms CPU, "
              f"over {len(walls)} (target <= {TARGET_S * 1000:.0f} ms): "
              f"{'ok' if poll <= TARGET_S else 'OVER TARGET'}")
        if not args.no_watcher:
            _whole_refresh(Path(tmp), log, run, step, total)
        return 0 if poll <= TARGET_S else 1


def _whole_refresh(tmp: Path, log: Path, run, step: int, total: int) -> None:
    """What else a watch refresh does: the analysis of the whole run and the report's text."""
    from radiovae.analysis import analyze
    from radiovae.report.watch import Watcher

    c0, t0 = time.process_time(), time.perf_counter()
    analyze(run)
    print(f"analyze() of the {len(run.table):,} rows: {time.perf_counter() - t0:.2f} s wall, "
          f"{time.process_time() - c0:.2f} CPU-s")
    watcher = Watcher(log, tmp / "out", figure_period=3600)
    watcher.refresh()                                   # the first one: whole log and figures
    walls, cpus = [], []
    for _ in range(3):
        _append(log, step, 500, total)
        step += 500
        c0, t0 = time.process_time(), time.perf_counter()
        update = watcher.refresh()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        assert update.new_records == 500
        if update.drew_figures:
            print("  (this refresh drew figures: a new warning, or the run's end)")
    print(f"Watcher.refresh() (poll + analysis + report text) after 1,000 new lines: median "
          f"{statistics.median(walls):.2f} s wall, {statistics.median(cpus):.2f} CPU-s")


if __name__ == "__main__":
    sys.exit(main())
