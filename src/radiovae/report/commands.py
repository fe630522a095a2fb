"""``radiovae report`` and ``radiovae watch``. Bad input raises UserError (the CLI prints it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _quiet_numerics() -> None:
    """numpy's overflow / invalid-value warnings on hostile records (1e308, inf) are noise on
    stderr: the report itself names every non-finite value."""
    import warnings

    warnings.filterwarnings("ignore", category=RuntimeWarning)


def report(args: argparse.Namespace) -> int:
    from radiovae.report.write import make_report

    _quiet_numerics()
    out = Path(args.out)
    summary = make_report(args.paths, out, total_steps=args.total_steps,
                          disc_start=args.disc_start, progress=True, smoothing=args.smoothing)
    steps = summary.steps
    print(f"report: {out / 'report.html'}  (also report.md, summary.json, figures/)")
    print(f"steps {steps.first or 0:,}–{steps.last or 0:,}"
          + (f" of {steps.planned:,}" if steps.planned else "")
          + f"; verdict: {summary.verdict} — {summary.verdict_reason or ''}")
    return 0


def watch(args: argparse.Namespace) -> int:
    from radiovae.report.watch import Watcher, watch_loop

    _quiet_numerics()
    watcher = Watcher(args.paths, args.out, total_steps=args.total_steps,
                      disc_start=args.disc_start)
    summary = watch_loop(watcher, args.interval, args.max_refreshes,
                         live=sys.stderr.isatty())
    if summary is not None:
        print(f"report: {Path(args.out) / 'report.html'}; verdict: {summary.verdict}")
    else:
        print("no training records arrived; no report written")
    return 0
