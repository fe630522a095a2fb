"""Benchmark: reading a RadioDiff text log against the straightforward parser, in the same run.

A 300k-line log (150k steps, two lines each, as RadioDiff's train_vae.py writes them) is read by
``radiovae.load_run`` and by the parser one writes first (:func:`naive_read`: one regex per line,
a dict per record, a DataFrame at the end, the time stamps converted in one vectorised call and
the two lines of a step merged by a group-by). Both must give the same table. Target: >= 10x
faster, judged on CPU seconds (this process's; the machine is shared, and other jobs inflate wall
time far more than CPU time); the script exits 1 below it. The watch refresh has its own
benchmark (watch_refresh.py).

Run: .venv/bin/python benchmarks/read_log.py [--steps 150000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from radiovae import load_run
from radiovae.runlog.radiodiff_log import format_radiodiff_lines

CONFIG = ("{{'model': {{'embed_dim': 3, 'lossconfig': {{'disc_start': 50001, 'kl_weight': 1e-06, "
          "'disc_weight': 0.5}}}}, 'data': {{'batch_size': 2}}, 'trainer': {{'lr': 5e-06, "
          "'train_num_steps': {total}, 'log_freq': 1}}}}")


def log_lines(first: int, steps: int, total: int, seed: int = 0) -> list[str]:
    """Two RadioDiff lines per step with values shaped like the real run."""
    rng = np.random.default_rng(seed + first)
    t0 = datetime(2025, 8, 15, 20, 41, 7)
    rec = 0.03 * np.exp(-np.arange(steps) / (steps / 2)) * (1 + 0.3 * rng.random(steps))
    kl = 150000 + 10000 * rng.random(steps)
    g = -0.45 + 0.05 * rng.standard_normal(steps)
    out: list[str] = []
    for i in range(steps):
        step = first + i
        on = float(step > total // 3)
        gen = {"train/total_loss": rec[i] * 65536 + 1e-6 * kl[i] + 5000 * on * g[i],
               "train/logvar": 0.0, "train/kl_loss": kl[i], "train/nll_loss": rec[i] * 65536,
               "train/rec_loss": rec[i], "train/d_weight": 5000.0, "train/disc_factor": on,
               "train/g_loss": g[i], "lr": 4e-6}
        disc = {"train/disc_loss": on * (1 + 0.1 * g[i]), "train/logits_real": 0.1 * g[i],
                "train/logits_fake": -0.1 * g[i], "lr": 4e-6}
        out += format_radiodiff_lines(step, total, gen, disc, t0 + timedelta(seconds=step / 5.4))
    return out


def write_log(path: Path, steps: int, total: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"2025-08-15 20:41:00,000 {CONFIG.format(total=total)}\n")
        chunk = 50_000
        for first in range(0, steps, chunk):
            fh.write("\n".join(log_lines(first, min(chunk, steps - first), total)) + "\n")
    return path


# -- the baseline: what one writes first ---------------------------------------------------------
LINE = re.compile(r"^(\S+ \S+) \[Train Step\] (\d+)/(\d+): (.*)$")


def naive_read(path: Path) -> pd.DataFrame:
    """One regex per line, a dict per record, a DataFrame at the end."""
    rows = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            m = LINE.match(line)
            if m is None:
                continue
            rec = {"time": m.group(1), "step": int(m.group(2))}
            for item in m.group(4).split(", "):
                if item.strip():
                    key, value = item.split(": ")
                    rec[key] = float(value)
            rows.append(rec)
    df = pd.DataFrame(rows)
    df["time"] = (pd.to_datetime(df["time"], format="%Y-%m-%d %H:%M:%S,%f")
                  - pd.Timestamp("1970-01-01")).dt.total_seconds()
    return df.groupby("step", as_index=False).last()   # a step's two lines: one row


def best_of(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall time and best CPU time (this process) over ``repeat`` calls, and the result.

    The machine is shared: wall time grows with other jobs, CPU time much less."""
    best, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        c, t = time.process_time(), time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best, best_cpu, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=150_000, help="steps in the log (2 lines each)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        log = write_log(Path(tmp) / "train.log", args.steps, 150_000)
        size = log.stat().st_size
        lines = 2 * args.steps + 1
        print(f"log: {lines:,} lines, {args.steps:,} steps, {size / 1e6:.1f} MB "
              f"(written in {time.perf_counter() - t:.1f} s); load average {_load()}")
        # interleaved, so that both see the same machine
        fast, naive = [], []
        run = ref = None
        for _ in range(args.repeat):
            fast.append(best_of(lambda: load_run(log), 1))
            naive.append(best_of(lambda: naive_read(log), 1))
            run, ref = fast[-1][2], naive[-1][2]
        t_fast, c_fast = min(f[0] for f in fast), min(f[1] for f in fast)
        t_naive, c_naive = min(f[0] for f in naive), min(f[1] for f in naive)
        assert len(run.table) == len(ref) == args.steps
        cols = [c for c in ref.columns if c != "time"]
        np.testing.assert_array_equal(run.table[cols].to_numpy(), ref[cols].to_numpy())
        np.testing.assert_allclose(run.table["time"], ref["time"], atol=1e-3)
        print(f"read  radiovae.load_run : {t_fast:6.3f} s wall, {c_fast:6.3f} CPU-s  "
              f"({lines / c_fast / 1e6:.2f} M lines per CPU-s)")
        print(f"read  naive regex loop  : {t_naive:6.3f} s wall, {c_naive:6.3f} CPU-s  "
              f"({lines / c_naive / 1e6:.2f} M lines per CPU-s)")
        ratio = c_naive / c_fast
        print(f"read  speed-up          : {ratio:6.1f}x CPU, {t_naive / t_fast:.1f}x wall"
              f"   (target >= 10x CPU): {'ok' if ratio >= 10 else 'BELOW TARGET'}")
        return 0 if ratio >= 10 else 1


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
