"""How fast is a report, a comparison, and a watch refresh? Prints figures; asserts nothing.

1. ``radiovae report`` on a 300k-line RadioDiff log (150k steps, two lines each), as a user runs
   it (a fresh process, imports included) — target ≤ 3 s wall on 2 cores — with the CPU seconds
   of all its processes, the HTML's size (target ≤ 5 MB), and in-process splits (reading,
   analysis, figures, text). Baselines in the same run: a fresh process that only reads the log
   (the floor), and the report with its figures drawn in one process (no drawing workers).
2. ``radiovae compare`` of four such runs in a fresh process — target ≤ 6 s.
3. ``watch``: one refresh after 1k new lines on a 1M-line log — target ≤ 0.3 s — against the
   baseline of rebuilding the report from scratch in the same run.

Other work on the machine inflates wall times, not CPU seconds: the load average is printed
with them. The 1-thread fp32 GEMM speed at the start and the end says how fast this machine was.

The logs are written with radiovae.runlog.format_radiodiff_lines (RadioDiff's line shape), their
values cycled from the real run in ../shared/data when it is there (else a synthetic curve).

    .venv/bin/python benchmarks/report_speed.py [--steps 150000] [--watch-steps 500000]
        [--no-compare] [--no-watch] [--figures-only]
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
REPORT_RATIO: float | None = None     # the whole report over the straightforward parse (wall)


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


def _fresh(args: list[str], repeats: int = 2) -> tuple[float, float]:
    """Best wall and CPU seconds (all processes) of ``python args`` in a fresh process."""
    times, cpu = [], []
    for _ in range(repeats):
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True,
                       env={**os.environ, "MPLBACKEND": "Agg"})
        times.append(time.perf_counter() - t)
        c2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(c2.ru_utime + c2.ru_stime - c.ru_utime - c.ru_stime)
    return min(times), min(cpu)


_SPLIT = """import resource, sys
from radiovae.cli import main
main(["report", sys.argv[1], "--out", sys.argv[2]])
me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print(me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime, file=sys.stderr)
"""


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def bench_report(tmp: Path, steps: int) -> Path:
    log = tmp / "report.log"
    t = time.perf_counter()
    n_lines = write_log(log, steps, total=steps)
    print(f"report: wrote {n_lines:,}-line RadioDiff log ({steps:,} steps, "
          f"{log.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")

    from radiovae.analysis import analyze
    from radiovae.report import write_report
    from radiovae.runlog import load_run

    read_w, read_c = _fresh(["-c", "import sys; from radiovae.runlog import load_run; "
                                   "load_run(sys.argv[1])", str(log)])
    # the bar: the straightforward parser of benchmarks/read_log.py (a regex per line, a dict per
    # record, a DataFrame at the end), in a fresh process like the report
    naive_w, naive_c = _fresh(["-c", "import sys; sys.path.insert(0, sys.argv[2]); "
                                     "from read_log import naive_read; naive_read(sys.argv[1])",
                               str(log), str(Path(__file__).resolve().parent)])
    rep_w, rep_c = _fresh(["-m", "radiovae", "report", str(log), "--out", str(tmp / "cli")])
    # where the CPU goes: this process (the critical path but for the drawing) vs the two
    # drawing workers (which run side by side) -> an estimate for an idle 2-core machine
    split = subprocess.run([sys.executable, "-c", _SPLIT, str(log), str(tmp / "split")],
                           check=True, capture_output=True, text=True,
                           env={**os.environ, "MPLBACKEND": "Agg"}).stderr.strip().splitlines()[-1].split()
    own, workers = float(split[0]), float(split[1])
    html = (tmp / "cli" / "report.html").stat().st_size
    charts = (tmp / "cli" / "figures" / "charts.json").stat().st_size
    pngs = sum(p.stat().st_size for p in (tmp / "cli" / "figures").glob("*.png"))
    print(f"  radiovae report (fresh process, imports included): {rep_w:.2f} s wall (best of 2; "
          f"target ≤ 3 s), {rep_c:.2f} CPU-s over its processes; {_load()}")
    print(f"  CPU-s: {own:.2f} in the report's own process, {workers:.2f} in its two drawing "
          f"workers → on an idle 2-core machine about {own + workers / 2:.1f} s wall "
          "(own + workers / 2; counts the workers' matplotlib import, which overlaps the reading)")
    print(f"  baseline, a fresh process that only reads the log: {read_w:.2f} s wall, "
          f"{read_c:.2f} CPU-s → the report costs {rep_w / read_w:.1f}× its wall, "
          f"{rep_c / read_c:.1f}× its CPU")
    idle = own + workers / 2
    ratio = rep_w / naive_w
    print(f"  bar, a fresh process running the straightforward parser (read_log.naive_read): "
          f"{naive_w:.2f} s wall, {naive_c:.2f} CPU-s → the whole report is {ratio:.2f}× its wall"
          f" (target ≤ 2×: {'ok' if ratio <= 2 else 'ABOVE'}); idle-machine estimate "
          f"{idle / naive_c:.2f}× its CPU-s")
    global REPORT_RATIO
    REPORT_RATIO = ratio
    print(f"  report.html {html / 1e6:.2f} MB (target ≤ 5 MB): chart data {charts / 1e6:.2f} MB, "
          f"8 PNGs {pngs / 1e6:.2f} MB before base64")

    def timed(fn, *args, **kw):
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        c, t = time.process_time(), time.perf_counter()
        out = fn(*args, **kw)
        kids2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        child = kids2.ru_utime + kids2.ru_stime - kids.ru_utime - kids.ru_stime
        return out, time.perf_counter() - t, time.process_time() - c + child

    import radiovae.report.figures as figures

    best: dict[str, tuple[float, float]] = {}
    for _ in range(2):
        run, *read = timed(load_run, log)
        summary, *ana = timed(analyze, run)
        _, *figs = timed(write_report, run, summary, tmp / "inproc", progress=False)
        _, *text = timed(write_report, run, summary, tmp / "inproc", progress=False,
                         figures=False)
        start, figures.start_drawing = figures.start_drawing, lambda workers=None: None
        try:   # the baseline: every figure drawn in this process, one after the other
            _, *serial = timed(write_report, run, summary, tmp / "serial", progress=False)
        finally:
            figures.start_drawing = start
        for key, val in (("read", read), ("analyze", ana), ("figures+text", figs),
                         ("text", text), ("figures+text in one process", serial)):
            old = best.get(key, (float("inf"), float("inf")))
            best[key] = (min(old[0], val[0]), min(old[1], val[1]))
    print("  in-process, best of 2 (wall s / CPU-s, children included): " + " · ".join(
        f"{k} {w:.2f}/{c:.2f}" for k, (w, c) in best.items()))
    par, ser = best["figures+text"], best["figures+text in one process"]
    print(f"  drawing workers vs one process: {ser[0] / par[0]:.2f}× faster wall, "
          f"{par[1] / ser[1]:.2f}× the CPU; {_load()}")
    return log


def bench_figures(tmp: Path, steps: int, repeats: int = 3) -> None:
    """The figures alone on a 300k-line log: the eight PNGs drawn in this process (one after the
    other) and by the two drawing workers, and the page's chart JSON; best of ``repeats``, CPU-s
    (children included) against the baseline of reading the log in the same run."""
    from radiovae.analysis import analyze
    from radiovae.report.charts import chart_json
    from radiovae.report.figures import draw_figures
    from radiovae.report.series import Smoothing
    from radiovae.runlog import load_run

    log = tmp / "figures.log"
    write_log(log, steps, total=steps)
    best: dict[str, tuple[float, float]] = {}

    def timed(key, fn, *args, **kw):
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        c, t = time.process_time(), time.perf_counter()
        out = fn(*args, **kw)
        kids2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        child = kids2.ru_utime + kids2.ru_stime - kids.ru_utime - kids.ru_stime
        val = (time.perf_counter() - t, time.process_time() - c + child)
        old = best.get(key, (float("inf"), float("inf")))
        best[key] = (min(old[0], val[0]), min(old[1], val[1]))
        return out

    for _ in range(repeats):
        run = timed("read", load_run, log)
        summary = analyze(run)
        timed("PNGs in one process", draw_figures, run.table, summary, tmp / "serial", workers=1)
        timed("PNGs, two workers", draw_figures, run.table, summary, tmp / "workers", workers=2)
        timed("chart JSON", chart_json, run.table, summary, Smoothing())
    read = best["read"]
    print(f"figures of a {steps:,}-step log, best of {repeats} (wall s / CPU-s, children "
          "included): " + " · ".join(f"{k} {w:.2f}/{c:.2f}" for k, (w, c) in best.items()))
    print("  against reading the log (CPU-s): " + " · ".join(
        f"{k} {c / read[1]:.2f}×" for k, (_w, c) in best.items() if k != "read") + f"; {_load()}")


def bench_compare(tmp: Path, log: Path, steps: int, runs: int = 4) -> None:
    """``radiovae compare`` of ``runs`` 300k-line logs (the first is the report's)."""
    logs = [log]
    for i in range(1, runs):
        other = tmp / f"compare{i}.log"
        write_log(other, steps - 1000 * i, total=steps)   # different step ranges
        logs.append(other)
    one_w, one_c = _fresh(["-m", "radiovae", "report", str(log), "--out", str(tmp / "one")], 1)
    w, c = _fresh(["-m", "radiovae", "compare", *map(str, logs), "--out", str(tmp / "cmp")])
    html = (tmp / "cmp" / "report.html").stat().st_size
    print(f"compare: radiovae compare of {runs} logs of ~{steps:,} steps (fresh process): "
          f"{w:.2f} s wall (best of 2; target ≤ 6 s), {c:.2f} CPU-s; report.html "
          f"{html / 1e6:.2f} MB; {_load()}")
    print(f"  baseline, radiovae report of one of them in the same run: {one_w:.2f} s wall, "
          f"{one_c:.2f} CPU-s → compare costs {w / one_w:.1f}× its wall, {c / one_c:.1f}× its CPU")


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


def gemm() -> str:
    from radiovae.train.demo import gemm_gflops

    return f"1-thread fp32 GEMM {gemm_gflops():.1f} GFLOP/s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=150_000, help="steps in the report log")
    ap.add_argument("--watch-steps", type=int, default=500_000, help="steps in the watched log")
    ap.add_argument("--no-compare", action="store_true", help="skip the comparison")
    ap.add_argument("--no-watch", action="store_true", help="skip the watch refresh")
    ap.add_argument("--figures-only", action="store_true",
                    help="only the figures: PNGs and chart JSON of one log")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, {_load()}, {gemm()} "
          "(wall times grow with other work on the machine; CPU-s do not)")
    with tempfile.TemporaryDirectory() as d:
        if args.figures_only:
            bench_figures(Path(d), args.steps)
            print(f"machine at the end: {_load()}, {gemm()}")
            return
        log = bench_report(Path(d), args.steps)
        if not args.no_compare:
            bench_compare(Path(d), log, args.steps)
        if not args.no_watch:
            bench_watch(Path(d), args.watch_steps)
    print(f"machine at the end: {_load()}, {gemm()}")
    if REPORT_RATIO is not None and REPORT_RATIO > 2:
        sys.exit(1)


if __name__ == "__main__":
    main()
