"""The figures of a comparison: one per metric, every run overlaid in its own colour.

Each run: its raw records (thin, light; min/max-thinned so spikes survive) and its smoothed curve
(TensorBoard's EMA, the weight the comparison states), its VAE → VAE-GAN switch (dashed) and its
resumes (dotted) in the same colour. Steps on the x axis: runs are aligned by training step.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from radiovae.analysis.compare import Entry, column_of, smoothed
from radiovae.fmt import fmt_step
from radiovae.io import atomic_path
from radiovae.report.figures import DPI, pyplot
from radiovae.report.series import LABELS, Curve, minmax_indices

# colour-blind-safe (Okabe-Ito), then matplotlib's tab10 for more runs
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
MAX_SMOOTH_POINTS = 4000


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def figure_name(key: str) -> str:
    return "compare_" + "".join(c if c.isalnum() else "_" for c in key).strip("_")


def title(key: str) -> str:
    return LABELS.get(key, key)


def draw_compare_figures(entries: Sequence[Entry], comparison: dict[str, Any],
                         out_dir: Path, workers: int | None = None) -> dict[str, Path]:
    """One PNG per series of the comparison; {series key: path}.

    With two or more cores a forked child draws every other figure (it inherits the runs;
    nothing is pickled but the paths it returns)."""
    global _JOB
    plt = pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = [s["key"] for s in comparison["series"]]
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    child = keys[1::2] if workers > 1 and len(keys) > 1 and \
        "fork" in mp.get_all_start_methods() else []
    _JOB = (entries, comparison, out_dir)
    drawn: dict[str, Path] = {}
    try:
        if child:
            pool = ProcessPoolExecutor(1, mp_context=mp.get_context("fork"))
            try:
                future = pool.submit(_draw_in_child, tuple(child))
                for key in keys:
                    if key not in child:
                        drawn[key] = _draw(plt, key, entries, comparison, out_dir)
                drawn.update(zip(child, map(Path, future.result()), strict=True))
            finally:
                pool.shutdown()
        else:
            for key in keys:
                drawn[key] = _draw(plt, key, entries, comparison, out_dir)
    finally:
        _JOB = None
    return {key: drawn[key] for key in keys}


_JOB: tuple | None = None   # what the forked child draws from (inherited, never pickled)


def _draw_in_child(keys: tuple[str, ...]) -> list[str]:
    entries, comparison, out_dir = _JOB   # type: ignore[misc]
    plt = pyplot()
    return [str(_draw(plt, key, entries, comparison, out_dir)) for key in keys]


def _draw(plt, key: str, entries: Sequence[Entry], comparison: dict[str, Any],
          out_dir: Path) -> Path:
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    weight = comparison["smoothing"]["weight"]
    facts = {r["label"]: r for r in comparison["runs"]}
    panel = bool(comparison.get("progress_panel"))
    fig, axes = plt.subplots(2 if panel else 1, 1, figsize=(10, 7.6 if panel else 4.4), dpi=DPI,
                             squeeze=False)
    ax = axes[0, 0]
    prog = axes[1, 0] if panel else None
    fig.subplots_adjust(left=0.08, right=0.98, top=0.93 if panel else 0.9,
                        bottom=0.08 if panel else 0.12, hspace=0.32)   # tight_layout: slow
    all_steps, all_values = [], []
    lo, hi = np.inf, -np.inf
    for i, e in enumerate(entries):
        col = column_of(e.run, key)
        if col is None:
            continue
        step, raw, sm = smoothed(e.run, col, weight)
        if not len(step):
            continue
        c, run = color(i), facts[e.label]
        idx = minmax_indices(raw)
        stride = max(1, len(step) // MAX_SMOOTH_POINTS)
        # earlier runs drawn wider, so a run that coincides with another still shows
        lw = max(1.0, 2.6 - 0.45 * i)
        span = float((run.get("steps") or {}).get("planned") or step[-1] or 1)
        views = [(ax, 1.0)] + ([(prog, span)] if prog is not None else [])
        for target, scale in views:
            target.plot(step[idx] / scale, raw[idx], color=c, lw=0.6, alpha=0.25)
            target.plot(step[::stride] / scale, sm[::stride], color=c, lw=lw,
                        label=f"{e.label} ({col})")
            if run.get("switch_step") is not None:
                target.axvline(run["switch_step"] / scale, color=c, lw=1.1, ls="--", alpha=0.9)
            for r in run.get("resume_steps") or []:
                target.axvline(r / scale, color=c, lw=1.0, ls=":", alpha=0.9)
        all_steps.append(step)
        all_values.append(raw)
        lo, hi = min(lo, float(step[0])), max(hi, float(step[-1]))
    if all_values:   # one y scale for all runs, judged on their values together
        union = Curve(key, np.concatenate(all_steps), np.concatenate(all_values)).scale
        for target in (ax, prog):
            if target is not None:
                _scale(target, union)
    if np.isfinite(lo):
        ax.set_xlim(lo, hi if hi > lo else lo + 1)
    ax.xaxis.set_major_formatter(FuncFormatter(fmt_step))
    ax.set_xlabel("training step")
    ax.set_ylabel(title(key))
    ax.set_title(f"{title(key)}: runs overlaid (thick: EMA {weight:g}; dashed: VAE → VAE-GAN; "
                 "dotted: resume)", loc="left", fontsize=10, y=1.0, pad=6)
    # loc="best" scans every drawn point for overlaps: seconds on long runs
    ax.legend(loc="upper right", fontsize=8)
    if prog is not None:
        prog.xaxis.set_major_formatter(PercentFormatter(1.0))
        prog.set_xlabel("each run's own progress: step / its planned steps (else its last step)")
        prog.set_ylabel(title(key))
        prog.set_title("the same runs over their own progress", loc="left", fontsize=10,
                       y=1.0, pad=6)
    path = out_dir / f"{figure_name(key)}.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, pil_kwargs={"compress_level": 3})
    plt.close(fig)
    return path


def _scale(ax, scale: tuple[str, float | None]) -> None:
    kind, thresh = scale
    if kind == "log":
        ax.set_yscale("log")
    elif kind == "symlog" and thresh:
        ax.set_yscale("symlog", linthresh=thresh)
