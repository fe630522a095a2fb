"""How fast is a report, and a watch refresh? Prints figures; asserts nothing.

1. ``radiovae report`` on a 300k-line RadioDiff log (150k steps, two lines each), as a user runs
   it (a fresh process, imports included) — target ≤ 3 s on 2 cores — and in-process, split into
   reading, analysis, figures and text.
2. ``watch``: one refresh after 1k new lines on a 1M-line log — target ≤ 0.3 s — against the
   baseline of rebuilding the report from scratch in the same run.

The logs are written with radiovae.runlog.format_radiodiff_lines (RadioDiff's line shape), their
values cycled from the real run in ../shared/data when it is there (else a synthetic curve).

    .venv/bin/python benchmarks/report_speed.py [--steps 150000] [--watch-steps 500000]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from radiovae.runlog import format_radiodiff_lines

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / \
    "radiodiff_vae_run_steps35000-149900.csv"
GEN = ["train/total_loss", "train/logvar", "train/kl_loss", "train/nll_loss", "train/rec_loss",
       "train/d_weight", "train/disc_factor", "train/g_loss", "lr"]
DISC = ["train/disc_loss", "train/logits_real", "train/logits_fake", "lr"]
START = datetime(2025, 8, 15, 20, 41, 7)


def _value_pool() -> np.ndarray:
    """Rows of generator values (GEN order): the real run's, else a plausible synthetic run."""
    if REAL.is_file():
        import pandas as pd

        return pd.read_csv(REAL)[GEN].to_numpy(float)
    rng = np.random.default_rng(0)
    n = 1000
    rec = 0.03 * np.exp(-np.arange(n) / 600) + 0.005 + 0.003 * rng.random(n)
    nll = rec * 65536
    kl = 1.5e5 + 30 * np.arange(n)
    g = -0.45 + 0.05 * rng.normal(size=n)
    return np.column_stack([nll + 1e-6 * kl + 5000 * g, np.zeros(n), kl, nll, rec,
                            np.full(n, 5000.0), np.ones(n), g, np.zeros(n)])


def write_log(path: Path, steps: int, total: int, disc_start: int = 50_001) -> int:
    """A RadioDiff log of ``steps`` logged steps (two lines each); returns the line count."""
    pool = _value_pool()
    bodies = []
    for row in pool:   # the text after "[Train Step] s/N: " of both lines, from the one formatter
        for on in (False, True):
            gen = dict(zip(GEN, row, strict=True))
            gen["train/disc_factor"] = float(on)
            disc = {"train/disc_loss": 0.98 if on else 0.0, "train/logits_real": 0.05,
                    "train/logits_fake": -0.4, "lr": 5e-6}
            lines = format_radiodiff_lines(0, total, gen, disc, START)
            bodies.append([line.split(f"0/{total}: ", 1)[1] for line in lines])
    stamps: dict[int, str] = {}
    lines_written = 0
    with path.open("w") as f:
        f.write(f"{START:%Y-%m-%d %H:%M:%S},000 {{'model': {{'lossconfig': {{'disc_start': "
                f"{disc_start}, 'kl_weight': 1e-06, 'disc_weight': 0.5}}}}, 'trainer': "
                f"{{'train_num_steps': {total}, 'log_freq': 1, 'lr': 5e-06}}}}\n")
        chunk = []
        for step in range(1, steps + 1):
            sec = step // 5
            stamp = stamps.get(sec)
            if stamp is None:
                stamp = stamps[sec] = (START + timedelta(seconds=sec)).strftime(
                    "%Y-%m-%d %H:%M:%S") + ",000"
            gen, disc = bodies[2 * (step % len(pool)) + (step >= disc_start)]
            chunk.append(f"{stamp} [Train Step] {step}/{total}: {gen}\n"
                         f"{stamp} [Train Step] {step}/{total}: {disc}\n")
            if len(chunk) == 10_000:
                f.write("".join(chunk))
                chunk.clear()
            lines_written += 2
        f.write("".join(chunk))
    return lines_written + 1


def append_steps(path: Path, first: int, count: int, total: int) -> None:
    pool = _value_pool()
    lines = []
    for step in range(first, first + count):
        row = pool[step % len(pool)]
        gen = dict(zip(GEN, row, strict=True))
        disc = {"train/disc_loss": 0.98, "train/logits_real": 0.05, "train/logits_fake": -0.4,
                "lr": 5e-6}
        lines += format_radiodiff_lines(step, total, gen, disc,
                                        START + timedelta(seconds=step / 5))
    with path.open("a") as f:
        f.write("".join(line + "\n" for line in lines))


def bench_report(tmp: Path, steps: int) -> None:
    log = tmp / "report.log"
    t = time.perf_counter()
    n_lines = write_log(log, steps, total=steps)
    print(f"report: wrote {n_lines:,}-line RadioDiff log ({steps:,} steps, "
          f"{log.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")

    from radiovae.analysis import analyze
    from radiovae.report import write_report
    from radiovae.runlog import load_run

    times, cpu = [], []
    for i in range(2):
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "radiovae", "report", str(log), "--out",
                        str(tmp / f"cli{i}")], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
        c2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(c2.ru_utime + c2.ru_stime - c.ru_utime - c.ru_stime)
    print(f"  radiovae report (fresh process, imports included): {min(times):.2f} s wall "
          f"(best of {len(times)}; target ≤ 3 s), {min(cpu):.2f} CPU-s over its processes")

    def timed(fn, *args, **kw):
        c, t = time.process_time(), time.perf_counter()
        out = fn(*args, **kw)
        return out, time.perf_counter() - t, time.process_time() - c

    best: dict[str, tuple[float, float]] = {}
    for _ in range(2):
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        run, *read = timed(load_run, log)
        summary, *ana = timed(analyze, run)
        _, *figs = timed(write_report, run, summary, tmp / "inproc", progress=False)
        kids2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        _, *text = timed(write_report, run, summary, tmp / "inproc", progress=False,
                         figures=False)
        child_cpu = kids2.ru_utime + kids2.ru_stime - kids.ru_utime - kids.ru_stime
        figs[1] += child_cpu   # figures drawn in a forked child count too
        for key, val in (("read", read), ("analyze", ana), ("figures+text", figs),
                         ("text", text)):
            old = best.get(key, (float("inf"), float("inf")))
            best[key] = (min(old[0], val[0]), min(old[1], val[1]))
    print("  in-process, best of 2 (wall s / CPU-s, children included): " + " · ".join(
        f"{k} {w:.2f}/{c:.2f}" for k, (w, c) in best.items())
        + f" · total {sum(best[k][0] for k in ('read', 'analyze', 'figures+text')):.2f}/"
        f"{sum(best[k][1] for k in ('read', 'analyze', 'figures+text')):.2f}")


def bench_watch(tmp: Path, steps: int, refreshes: int = 5) -> None:
    from radiovae.report.watch import Watcher
    from radiovae.report.write import make_report

    log = tmp / "watch.log"
    total = steps * 2
    t = time.perf_counter()
    n_lines = write_log(log, steps, total=total)
    print(f"watch: wrote {n_lines:,}-line log ({log.stat().st_size / 1e6:.0f} MB) in "
          f"{time.perf_counter() - t:.1f} s")
    watcher = Watcher(log, tmp / "watch-out", figure_period=3600)
    t = time.perf_counter()
    watcher.refresh()
    first = time.perf_counter() - t
    from radiovae.analysis import analyze
    run = watcher.follower.poll()
    c, t = time.process_time(), time.perf_counter()
    analyze(run)
    analysis, analysis_cpu = time.perf_counter() - t, time.process_time() - c
    step = steps + 1
    text_only, text_cpu, with_figures = [], [], []
    for i in range(refreshes + 1):
        append_steps(log, step, 500, total)   # 500 steps = 1,000 lines
        step += 500
        c = time.process_time()
        u = watcher.refresh(force_figures=(i == refreshes))
        assert u.new_records == 500, u.new_records
        if u.drew_figures:
            with_figures.append(u.seconds)
        else:
            text_only.append(u.seconds)
            text_cpu.append(time.process_time() - c)
    t = time.perf_counter()
    make_report(log, tmp / "scratch-out", progress=False)
    scratch = time.perf_counter() - t
    median = statistics.median(text_only)
    print(f"  first refresh (whole log, figures): {first:.2f} s")
    print(f"  refresh after 1,000 new lines: median {median:.3f} s wall (best {min(text_only):.3f}), "
          f"{statistics.median(text_cpu):.3f} CPU-s, over {len(text_only)} (target ≤ 0.3 s); "
          f"analyze() alone on {len(run.table):,} rows ≈ {analysis:.3f} s wall, {analysis_cpu:.3f} "
          f"CPU-s; with figures redrawn {with_figures[0]:.2f} s")
    print(f"  baseline, report from scratch on the same log: {scratch:.2f} s → a refresh is "
          f"{scratch / median:.0f}× faster")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=150_000, help="steps in the report log")
    ap.add_argument("--watch-steps", type=int, default=500_000, help="steps in the watched log")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
          "(wall times grow with other work on the machine; CPU-s do not)")
    with tempfile.TemporaryDirectory() as d:
        bench_report(Path(d), args.steps)
        bench_watch(Path(d), args.watch_steps)


if __name__ == "__main__":
    main()
