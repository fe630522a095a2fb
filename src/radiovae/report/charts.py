"""The interactive HTML charts: the second renderer of the figures' descriptions (figspec), as
the JSON the page's uPlot charts draw (assets/charts.js).

A *panel* is one chart (one x axis, one or more y scales); a *figure* is a list of panels whose
zoom and cursor move together. The page's script (assets/charts.js) draws each series as its raw
envelope (min … max of each group of consecutive records, so spikes survive) and a smoothed line
it computes itself from the group means with TensorBoard's debiased EMA, the same as
analysis.smoothing.ema_smooth, at the weight of the page's slider.

:func:`chart_panels` renders one :class:`~radiovae.report.figspec.FigureSpec`, :func:`chart_json`
all of a run's figures. Reuse (``radiovae compare``): build panels with :func:`panel` and
:func:`series` from step-aligned arrays (:func:`align` puts several runs on one x), mark steps
with :func:`vline` / :func:`span`, then hand ``{figure key: [panel, ...]}`` to :func:`pack` and
the JSON text to ``render.to_html(..., charts=...)``; a Figure block whose path's stem is a key
gets that chart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from radiovae.analysis.schema import Summary
from radiovae.report.figspec import PHASE_ROW, FigureSpec, Mark, PanelSpec, SeriesSpec
from radiovae.report.series import Curves, Smoothing, over

SPEC_VERSION = 1
Array = Sequence[float] | np.ndarray


# -- building blocks (also for compare) ---------------------------------------------------------
def series(label: str, y: Array, *, lo: Array | None = None, hi: Array | None = None,
           color: str = "#333333", axis: str = "y", width: float = 1.7, raw: bool = True,
           smooth: bool = True, median: Array | None = None,
           norm: tuple[float, float] | None = None, span_gaps: bool = False,
           step: bool = False) -> dict[str, Any]:
    """One metric (or one run's metric) on a panel, its arrays aligned with the panel's x.

    ``y``: the values the smoothed line is computed from (group means; NaN / None = no record);
    ``lo`` / ``hi``: the raw envelope drawn faintly (omit both to draw ``y`` itself as raw);
    ``raw=False`` draws the smoothed line only; ``smooth=False`` draws ``y`` unsmoothed;
    ``median``: a precomputed rolling-median line (shown while the page's "rolling median" box is
    ticked); ``norm=(lo, hi)`` draws every line mapped to [0, 1] (hover still shows the values);
    ``axis``: the panel scale it is drawn on; ``span_gaps``: join the line across missing points
    (runs aligned on a common x have them wherever another run logged); ``step``: draw ``y`` as
    steps (each value held until the next point; with ``smooth=False``, for a step-like series)."""
    out: dict[str, Any] = {"label": label, "color": color, "axis": axis, "width": width,
                           "raw": raw, "smooth": smooth, "spanGaps": span_gaps, "y": y}
    if step:
        out["step"] = True
    if lo is not None and hi is not None:
        out["lo"], out["hi"] = lo, hi
    if median is not None:
        out["median"] = median
    if norm is not None:
        out["norm"] = [float(norm[0]), float(norm[1])]
    return out


def scale(kind: str = "linear", thresh: float | None = None, label: str = "",
          side: str = "left", color: str | None = None) -> dict[str, Any]:
    """A y scale: ``kind`` "linear" | "log" | "symlog" (``thresh``: its linear band)."""
    return {"kind": kind, "thresh": thresh, "label": label, "side": side, "color": color}


def vline(x: float, color: str, label: str = "", dash: Sequence[int] = (5, 4),
          pos: str = "top") -> dict[str, Any]:
    """A vertical line at step ``x`` (a phase switch, a resume), labelled at the top or bottom."""
    return {"x": float(x), "color": color, "label": label, "dash": list(dash), "pos": pos}


def span(start: float, end: float, color: str, alpha: float = 0.06,
         label: str = "") -> dict[str, Any]:
    """A shaded range of steps (the VAE-GAN phase, a divergence)."""
    return {"from": float(start), "to": float(end), "color": color, "alpha": alpha,
            "label": label}


def panel(title: str, x: Array, series_: list[dict[str, Any]], *,
          scales: dict[str, dict[str, Any]] | None = None, marks: dict[str, list] | None = None,
          note: str = "", height: int = 300, half: bool = False,
          timeline: dict[str, Any] | None = None) -> dict[str, Any]:
    """One chart. ``x``: sorted steps; ``scales``: {axis name: :func:`scale`} (default one linear
    "y"); ``marks``: {"vlines": [...], "spans": [...], "points": [{x, y, axis, color, shape
    "v"|"x", label}], "hlines": [{y, axis, color, label}]}; ``note``: shown instead of an empty
    chart; ``half``: half the page's width (panels side by side); ``timeline``: rows of finding
    ticks (the dashboard's last panel)."""
    return {"title": title, "x": x, "series": series_, "scales": scales or {"y": scale()},
            "marks": marks or {}, "note": note, "height": height, "half": half,
            "timeline": timeline}


def align(runs: Sequence[tuple[Array, Sequence[Array]]]) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """Put runs with different steps on one x: ``runs`` = [(x, [array, ...]), ...] ->
    (union of the steps, per run its arrays on that x with NaN where the run has no point)."""
    xs = [np.asarray(x, dtype="float64") for x, _ in runs]
    union = np.unique(np.concatenate(xs)) if xs else np.zeros(0)
    out = []
    for x, arrays in zip(xs, (a for _, a in runs), strict=True):
        idx = np.searchsorted(union, x)
        placed = []
        for a in arrays:
            full = np.full(len(union), np.nan)
            full[idx] = np.asarray(a, dtype="float64")
            placed.append(full)
        out.append(placed)
    return union, out


# -- the page's JSON ------------------------------------------------------------------------------
def _fmt(a: Array) -> str:
    """Compact JSON array: 6 significant digits, integers as integers, NaN/inf as null."""
    arr = np.asarray(a, dtype="float64")
    if arr.size and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)) \
            and np.abs(arr).max() < 2 ** 53:
        return "[" + ",".join(map(str, arr.astype(np.int64).tolist())) + "]"
    return "[" + ",".join(f"{v:.6g}" if v == v and abs(v) != np.inf else "null"
                          for v in arr.tolist()) + "]"


_ARRAY_KEYS = ("x", "y", "lo", "hi", "median")


def pack(figures: dict[str, list[dict[str, Any]]], smoothing: Smoothing | None = None,
         records: int | None = None) -> str:
    """The page's chart data as JSON text that is safe inside ``<script>`` (``<``, ``>``, ``&``
    and the JS line separators are \\u-escaped). Identical arrays are stored once and named by
    index (a metric is drawn in several figures). ``records``: the run's record count, for the
    caption the slider rewrites."""
    smoothing = smoothing or Smoothing()
    pool: list[str] = []
    index: dict[str, int] = {}

    def ref(a: Array) -> int:
        text = _fmt(a)
        if text not in index:
            index[text] = len(pool)
            pool.append(text)
        return index[text]

    figs = {}
    for key, panels in figures.items():
        out = []
        for p in panels:
            p = {**p, "x": ref(p["x"]), "series": [
                {k: (ref(v) if k in _ARRAY_KEYS else v) for k, v in s.items()}
                for s in p["series"]]}
            out.append(p)
        figs[key] = out
    meta = {"version": SPEC_VERSION, "weight": smoothing.weight, "median": smoothing.median,
            "over": over(records) if records is not None else "",
            "figures": figs}
    text = json.dumps(meta, allow_nan=False, separators=(",", ":"))
    text = text[:-1] + ',"arrays":[' + ",".join(pool) + "]}"
    for a, b in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                 ("\u2029", "\\u2029")):
        text = text.replace(a, b)
    return text


# -- the figures' descriptions as panels --------------------------------------------------------------
def chart_json(table, summary: Summary, smoothing: Smoothing | None = None) -> str:
    """The interactive charts of the run's figures, as the JSON text the HTML embeds."""
    from radiovae.report.figures import describe

    smoothing = smoothing or Smoothing()
    specs = describe(Curves(table), summary, smoothing)
    return pack(build_charts(specs, smoothing), smoothing, records=len(table))


def build_charts(specs: dict[str, FigureSpec], smoothing: Smoothing | None = None
                 ) -> dict[str, list[dict[str, Any]]]:
    """{figure key: panels} of the described figures."""
    smoothing = smoothing or Smoothing()
    return {name: chart_panels(spec, smoothing) for name, spec in specs.items()}


def chart_panels(spec: FigureSpec, smoothing: Smoothing) -> list[dict[str, Any]]:
    """One figure's panels: the same series, scales, marks and titles as its PNG."""
    out = []
    for p in spec.panels:
        half = spec.half(p)
        if p.note:
            out.append(panel(p.title, [], [], note=p.note, height=p.height, half=half))
            continue
        x = _x(p, spec)
        own = len(p.series) == 1
        timeline = None
        if p.timeline is not None:
            timeline = {"rows": [{"label": r.label, "color": r.color, "ticks": r.ticks,
                                  "range": list(r.range) if r.range else None, "wide": r.wide}
                                 for r in p.timeline.rows],
                        "phase": PHASE_ROW if p.timeline.phase else ""}
        out.append(panel(
            p.title, x, [_series(s, x, own, smoothing) for s in p.series],
            scales={k: scale(sc.kind, sc.thresh, sc.label, sc.side, sc.color)
                    for k, sc in p.scales.items()},
            marks=_marks(p.marks), height=p.height, half=half, timeline=timeline))
    return out


def _x(p: PanelSpec, spec: FigureSpec) -> np.ndarray:
    """A panel's x: a lone series' own points (a step-like one's change points), else the
    smoothing groups every curve of the run shares; no series: the run's first and last step."""
    if not p.series:
        return np.asarray(spec.xlim)
    c = p.series[0].curve
    if len(p.series) == 1 and c.steplike:
        return c.step_points[0]
    return c.groups[0]


def _series(s: SeriesSpec, x: np.ndarray, own: bool, smoothing: Smoothing) -> dict[str, Any]:
    c = s.curve
    kw: dict[str, Any] = dict(color=s.color, axis=s.axis, width=s.width, norm=s.norm)
    if c.steplike or s.fill:       # as steps, never smoothed
        sx, sy = c.step_points if c.steplike else (c.groups[0], c.groups[3])
        if not own:   # the value in force at each x of the panel
            i = np.searchsorted(sx, x, side="right") - 1
            sy = np.where(i >= 0, sy[i.clip(0)], np.nan)
        return series(s.label, sy, raw=False, smooth=False, step=True, **kw)
    _gx, lo, hi, mean = c.groups
    median = c.rolling_median[1] if smoothing.median else None
    return series(s.label, mean, lo=lo, hi=hi, median=median, raw=s.raw, **kw)


def _marks(marks: list[Mark]) -> dict[str, list]:
    out: dict[str, list] = {"vlines": [], "spans": [], "points": [], "hlines": []}
    for m in marks:
        if m.kind == "switch":
            out["spans"].append(span(m.xs[0], m.xs[1], m.color, 0.05))
            out["vlines"].append(vline(m.xs[0], m.color, m.label))
        elif m.kind == "resume":
            out["vlines"].append(vline(m.xs[0], m.color, m.label, (2, 3), "bottom"))
        elif m.kind == "band":
            out["spans"].append(span(m.xs[0], m.xs[1], m.color, 0.08, m.label))
        elif m.kind == "point":
            out["points"] += [{"x": float(x), "y": y, "axis": m.axis, "color": m.color,
                               "shape": m.shape, "label": m.label}
                              for x, y in zip(m.xs, m.ys, strict=True)]
        elif m.kind in ("hline", "constant"):
            out["hlines"].append({"y": float(m.ys[0]), "axis": m.axis, "color": m.color,
                                  "label": m.label})
    return out
