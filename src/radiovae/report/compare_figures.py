"""The figures of a comparison: one per metric, every run overlaid in its own colour.

Each run: its raw records (thin, light; min/max-thinned so spikes survive) and its smoothed curve
(TensorBoard's EMA, the weight the comparison states), its VAE → VAE-GAN switch (dashed) and its
resumes (dotted) in the same colour. Steps on the x axis: runs are aligned by training step.
When the runs' step ranges differ too much for one step axis (``progress_panel``), a second
figure per metric shows each run over its own progress. The HTML gets the same step-axis
figures as interactive charts (:func:`build_compare_charts`).
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radiovae.analysis.compare import Comparison, Entry, column_of, smoothed
from radiovae.fmt import fmt_step
from radiovae.io import atomic_path
from radiovae.procs import kill_pool, worker_pool
from radiovae.report.png import DPI, pyplot
from radiovae.report.series import LABELS, Curve, minmax_indices

# colour-blind-safe (Okabe-Ito), then matplotlib's tab10 for more runs
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
MAX_SMOOTH_POINTS = 4000


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def figure_names(keys: Sequence[str]) -> dict[str, str]:
    """A file stem per series key, unique within the comparison (and case-insensitively):
    ``compare_<key with every other character as _>``; keys that would share a stem
    (``train_loss``, ``train:loss``, ``train loss``) each get a short hash of the key added."""
    base = {k: "compare_" + "".join(c if c.isalnum() else "_" for c in k).strip("_")[:80]
            for k in keys}
    count = Counter(b.lower() for b in base.values())
    return {k: b if count[b.lower()] == 1 else
            f"{b}_{hashlib.sha1(k.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"
            for k, b in base.items()}


def figure_name(key: str, comparison: Comparison) -> str:
    return figure_names([s.key for s in comparison.series])[key]


def title(key: str) -> str:
    return LABELS.get(key, key)


PROGRESS = ":progress"   # suffix of the key of a metric's own-progress figure


def draw_compare_figures(entries: Sequence[Entry], comparison: Comparison,
                         out_dir: Path, workers: int | None = None) -> dict[str, Path]:
    """One PNG per series of the comparison (and one over each run's own progress when
    ``progress_panel``); {series key (+ ":progress"): path}.

    With two or more cores a forked child draws every other figure (it inherits the runs;
    nothing is pickled but the paths it returns)."""
    global _JOB
    plt = pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = [s.key for s in comparison.series]
    if comparison.progress_panel:
        keys = [k for key in keys for k in (key, key + PROGRESS)]
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    child = keys[1::2] if workers > 1 and len(keys) > 1 and \
        "fork" in mp.get_all_start_methods() else []
    _JOB = (entries, comparison, out_dir)
    drawn: dict[str, Path] = {}
    try:
        if child:
            pool = worker_pool(1)          # ends with this process
            try:
                future = pool.submit(_draw_in_child, tuple(child))
                for key in keys:
                    if key not in child:
                        drawn[key] = _draw(plt, key, entries, comparison, out_dir)
                drawn.update(zip(child, map(Path, future.result()), strict=True))
            except BaseException:
                kill_pool(pool)            # before the folder it draws into is removed
                raise
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


def _runs(key: str, entries: Sequence[Entry], weight: float):
    """(index, entry, column, steps, raw, smoothed) of every run that has finite records."""
    for i, e in enumerate(entries):
        col = column_of(e.run, key)
        if col is None:
            continue
        step, raw, sm = smoothed(e.run, col, weight)
        if len(step):
            yield i, e, col, step, raw, sm


def union_scale(values: list[np.ndarray]) -> tuple[str, float | None, bool]:
    """One y scale for all runs, judged on their values together: (kind, linthresh, zeros
    hidden). Non-negative values whose positive part spans over two decades get a log axis even
    with zeros among them (d_weight and disc_factor are 0 before the discriminator starts): the
    zeros are then not drawn, which the axes say."""
    v = np.concatenate(values) if values else np.zeros(0)
    if len(v) and v.min() >= 0:
        pos = v[v > 0]
        if len(pos) > 1 and float(pos.max()) / float(np.percentile(pos, 1)) > 100:
            return "log", None, bool((v == 0).any())
    kind, thresh = Curve("all", np.arange(len(v)), v).scale
    return kind, thresh, False


def _draw(plt, key: str, entries: Sequence[Entry], comparison: Comparison,
          out_dir: Path) -> Path:
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    progress = key.endswith(PROGRESS)
    key = key.removesuffix(PROGRESS)
    weight = comparison.smoothing.weight
    facts = {r.label: r for r in comparison.runs}
    fig, ax = plt.subplots(figsize=(10, 4.6), dpi=DPI)
    values = []
    handles = []
    lo, hi = np.inf, -np.inf
    for i, e, col, step, raw, sm in _runs(key, entries, weight):
        c, run = color(i), facts[e.label]
        # each run over its own progress: step / its planned steps (else its last step)
        unit = float(run.steps.planned or step[-1] or 1) if progress else 1.0
        idx = minmax_indices(raw)
        stride = max(1, len(step) // MAX_SMOOTH_POINTS)
        ax.plot(step[idx] / unit, raw[idx], color=c, lw=0.6, alpha=0.25)
        # earlier runs drawn wider, so a run that coincides with another still shows
        (line,) = ax.plot(step[::stride] / unit, sm[::stride], color=c,
                          lw=max(1.0, 2.6 - 0.45 * i), label=f"{e.label} ({col})")
        handles.append(line)
        if run.switch_step is not None:
            ax.axvline(run.switch_step / unit, color=c, lw=1.1, ls="--", alpha=0.9)
        for r in run.resume_steps:
            ax.axvline(r / unit, color=c, lw=1.0, ls=":", alpha=0.9)
        values.append(raw)
        lo, hi = min(lo, float(step[0] / unit)), max(hi, float(step[-1] / unit))
    kind, thresh, zeros = union_scale(values)
    if kind == "log":
        ax.set_yscale("log")
    elif kind == "symlog" and thresh:
        ax.set_yscale("symlog", linthresh=thresh)
    if kind != "linear":
        ax.text(1.0, 1.0, f"{kind} scale" + ("; zeros not drawn" if zeros else ""),
                transform=ax.transAxes, fontsize=7.5, ha="right", va="bottom", color="#566573")
    if np.isfinite(lo):
        ax.set_xlim(lo, hi if hi > lo else lo + 1)
    if progress:
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel("each run's own progress: step / its planned steps (else its last step)")
        what = "each run over its own progress"
    else:
        ax.xaxis.set_major_formatter(FuncFormatter(fmt_step))
        ax.set_xlabel("training step")
        what = "runs aligned by step"
    ax.set_ylabel(title(key))
    ax.set_title(f"{title(key)}: {what}", loc="left", fontsize=10, y=1.0, pad=12)
    # the legend below the axes, never over a curve (loc="best" would scan every point: slow):
    # the runs, then what the line styles mean
    from matplotlib.lines import Line2D

    grey = "#566573"
    handles += [Line2D([], [], color=grey, lw=0.6, alpha=0.5, label="raw records"),
                Line2D([], [], color=grey, lw=2.0, label=f"smoothed (EMA {weight:g})"),
                Line2D([], [], color=grey, lw=1.1, ls="--", label="VAE → VAE-GAN switch"),
                Line2D([], [], color=grey, lw=1.0, ls=":", label="resume")]
    ncol = 4
    rows = -(-len(handles) // ncol)
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.13 + 0.05 * rows)
    path = out_dir / f"{figure_name(key, comparison)}{'-progress' if progress else ''}.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, pil_kwargs={"compress_level": 3})
    plt.close(fig)
    return path


def build_compare_charts(entries: Sequence[Entry], comparison: Comparison
                         ) -> dict[str, list[dict[str, Any]]]:
    """The step-axis figures as interactive chart specs ({figure stem: [panel]}): per run its
    raw envelope and the page-smoothed line in its colour, its switch and resumes marked."""
    from radiovae.report import charts as C

    facts = {r.label: r for r in comparison.runs}
    weight = comparison.smoothing.weight
    out: dict[str, list[dict[str, Any]]] = {}
    names = figure_names([s.key for s in comparison.series])
    for s in comparison.series:
        key = s.key
        runs = list(_runs(key, entries, weight))
        if not runs:
            continue
        grouped = [Curve(col, step, raw).groups for _i, _e, col, step, raw, _sm in runs]
        x, placed = C.align([(g[0], [g[1], g[2], g[3]]) for g in grouped])
        series, vlines = [], []
        for (i, e, col, *_), (lo, hi, mean) in zip(runs, placed, strict=True):
            c, run = color(i), facts[e.label]
            series.append(C.series(f"{e.label} ({col})", mean, lo=lo, hi=hi, color=c,
                                   span_gaps=True))
            if run.switch_step is not None:
                vlines.append(C.vline(run.switch_step, c, f"{e.label}: VAE → VAE-GAN"))
            for r in run.resume_steps:
                vlines.append(C.vline(r, c, f"{e.label}: resumed @ {fmt_step(r)}", (2, 3),
                                      "bottom"))
        kind, thresh, _zeros = union_scale([raw for *_, raw, _sm in runs])
        out[names[key]] = [C.panel(
            f"{title(key)}: runs aligned by step", x, series,
            scales={"y": C.scale(kind, thresh, title(key))},
            marks={"vlines": vlines, "spans": [], "points": [], "hlines": []})]
    return out
