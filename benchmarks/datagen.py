"""Radio-map generation speed: maps/s of the built-in generator, PNGs included (target: >= 50
maps/s at 256x256 on 2 cores; a map is one transmitter's gain image), the share of each stage,
and, with --raytrace, seconds per ray-traced map.

    python benchmarks/datagen.py [--maps 20] [--tx 8] [--size 256] [--workers 2] [--regime street]
                                 [--raytrace]

Figures printed: the CPU time per map and the share of each stage (city, tables, line of sight,
corner paths, reflections, over-roof, sum, gray scale) in one process (time.process_time: what
holds on a quiet machine); in-memory maps/s (one process: the model alone), files
maps/s with one worker and with --workers (the ratio is the parallel speed-up measured in the
same run). Each figure is the best of --repeats runs, since other work on the machine only ever
slows a run down.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from radiovae.data.generator import generate_maps, make_map, synthesize

TARGET = 50.0


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished children (the workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def best_rate(fn, samples: int, repeats: int) -> tuple[float, float]:
    """(samples per wall-clock second, samples per CPU second), best of ``repeats``."""
    wall = cpu = float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), _cpu_seconds()
        fn()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, _cpu_seconds() - c0)
    return samples / wall, samples / cpu


def stage_shares(args: argparse.Namespace) -> None:
    """Where one process spends its time, per stage, over the benchmark's maps."""
    timings: dict[str, float] = {}
    make_map(0, 0, 1, args.size, args.regime)  # compile / load the numba kernels first
    t0, c0 = time.perf_counter(), time.process_time()
    for m in range(args.maps):
        make_map(0, m, args.tx, args.size, args.regime, timings=timings)
    wall, total = time.perf_counter() - t0, time.process_time() - c0
    samples = args.maps * args.tx
    print(f"stages, 1 process, {samples} maps ({args.regime}): {total / samples * 1e3:.1f} ms "
          f"CPU per map ({wall / samples * 1e3:.1f} ms wall) = {samples / total:.1f} maps per "
          f"CPU-second; on {args.workers} idle cores {args.workers * samples / total:.0f} maps/s")
    for name, sec in sorted(timings.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<16s} {sec / samples * 1e3:7.2f} ms  {sec / total:6.1%}")
    rest = total - sum(timings.values())
    print(f"  {'(other)':<16s} {rest / samples * 1e3:7.2f} ms  {rest / total:6.1%}")


def bench_generator(args: argparse.Namespace) -> None:
    samples = args.maps * args.tx
    tmp = Path(tempfile.mkdtemp(prefix="radiovae-datagen-"))
    try:
        def write(workers: int) -> None:
            shutil.rmtree(tmp / "out", ignore_errors=True)
            synthesize(tmp / "out", args.maps, args.tx, size=args.size, seed=0, workers=workers,
                       progress=False, regime=args.regime)

        memory = best_rate(lambda: generate_maps(args.maps, args.tx, args.size, progress=False,
                                                 regime=args.regime), samples, args.repeats)
        one = best_rate(lambda: write(1), samples, args.repeats)
        many = best_rate(lambda: write(args.workers), samples, args.repeats)
        png_bytes = sum(p.stat().st_size for p in (tmp / "out").rglob("*.png"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"generator {args.maps} maps x {args.tx} tx at {args.size}x{args.size}, best of "
          f"{args.repeats}; {os.cpu_count()} cores, load average {load:.1f} "
          f"(a busy machine lowers the wall-clock figures, not the per-CPU-second ones)")
    print(f"  {'':28s} {'maps/s':>10s} {'per CPU-s':>10s}")
    print(f"  {'in memory, 1 process':28s} {memory[0]:10.1f} {memory[1]:10.1f}")
    print(f"  {'PNGs, 1 worker':28s} {one[0]:10.1f} {one[1]:10.1f}")
    print(f"  {f'PNGs, {args.workers} workers':28s} {many[0]:10.1f} {many[1]:10.1f}   "
          f"wall speed-up x{many[0] / one[0]:.2f}")
    projected = many[1] * args.workers
    print(f"  target {TARGET:.0f} maps/s on {args.workers} cores: measured {many[0]:.0f} "
          f"({'met' if many[0] >= TARGET else 'not met'}), "
          f"{args.workers} x per-CPU-second rate {projected:.0f} "
          f"({'met' if projected >= TARGET else 'not met'} on idle cores)")
    print(f"  disk: {png_bytes / samples / 1024:.1f} KiB per map")


def bench_raytrace(args: argparse.Namespace) -> None:
    try:
        from radiovae.data.raytrace import raytrace_maps
    except ImportError as exc:  # the optional extra radiovae[raytrace] is not installed
        print(f"ray tracing: not available ({exc}); install radiovae[raytrace] to time it")
        return
    tmp = Path(tempfile.mkdtemp(prefix="radiovae-raytrace-"))
    try:
        t0 = time.perf_counter()
        paths = raytrace_maps(args.scene, args.rt_tx, tmp, size=args.size, progress=False)
        elapsed = time.perf_counter() - t0
    except Exception as exc:  # report, do not hide: the figure is missing and why
        print(f"ray tracing: failed on scene {args.scene!r}: {type(exc).__name__}: {exc}")
        return
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = max(1, args.rt_tx)
    print(f"ray tracing {args.scene}: {n} maps in {elapsed:.1f} s = {elapsed / n:.2f} s per map "
          f"({len(paths)} files)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--maps", type=int, default=20)
    p.add_argument("--tx", type=int, default=8)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--regime", default="street", choices=["street", "above_roof", "mixed"])
    p.add_argument("--raytrace", action="store_true", help="also time radiovae.data.raytrace")
    p.add_argument("--scene", default="munich")
    p.add_argument("--rt-tx", type=int, default=2, help="ray-traced maps to time")
    args = p.parse_args(argv)
    stage_shares(args)
    bench_generator(args)
    if args.raytrace:
        bench_raytrace(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
