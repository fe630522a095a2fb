"""The interactive HTML charts: the figures' data as chart specs for the page's uPlot charts.

A *panel* is one chart (one x axis, one or more y scales); a *figure* is a list of panels whose
zoom and cursor move together. The page's script (assets/charts.js) draws each series as its raw
envelope (min … max of each group of consecutive records, so spikes survive) and a smoothed line
it computes itself from the group means with TensorBoard's debiased EMA, the same as
analysis.smoothing.ema_smooth, at the weight of the page's slider.

Reuse (``radiovae compare``): build panels with :func:`panel` and :func:`series` from step-aligned
arrays (:func:`align` puts several runs on one x), mark steps with :func:`vline` / :func:`span`,
then hand ``{figure key: [panel, ...]}`` to :func:`pack` and the JSON text to
``render.to_html(..., charts=...)``; a Figure block whose path's stem is a key gets that chart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from radiovae.analysis.schema import Marks
from radiovae.fmt import fmt_step, num
from radiovae.report.series import LABELS, Curve, Curves, Smoothing, over

SPEC_VERSION = 1
SWITCH_COLOR, RESUME_COLOR = "#7d3c98", "#566573"
SEVERITY_COLORS = {"critical": "#c0392b", "warning": "#d68910", "info": "#5d6d7e"}
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


# -- the report's figures as panels -----------------------------------------------------------------
class _Builder:
    def __init__(self, curves: Curves, marks: Marks, smoothing: Smoothing):
        from radiovae.report.figures import COLORS

        self.curves, self.marks, self.smoothing, self.colors = curves, marks, smoothing, COLORS
        steps = curves.steps
        lo, hi = (float(steps.min()), float(steps.max())) if len(steps) else (0.0, 1.0)
        self.xlim = (lo, hi)

    def series(self, role: str, label: str | None = None, on: np.ndarray | None = None,
               **kw) -> dict[str, Any]:
        """``role``'s series; a step-like one as its steps, unsmoothed, on ``on`` (the x of a
        panel it shares with other series) or on its own change points (:meth:`x`)."""
        c = self.curves[role]
        kw.setdefault("color", self.colors.get(role, "#333333"))
        if c.steplike:
            sx, sy = c.step_points
            if on is not None:   # the value in force at each x of the panel
                i = np.searchsorted(sx, np.asarray(on), side="right") - 1
                sy = np.where(i >= 0, sy[i.clip(0)], np.nan)
            kw.update(raw=False, smooth=False, step=True)
            return series(label or c.name, sy, **kw)
        _x, lo, hi, mean = c.groups
        median = c.rolling_median[1] if self.smoothing.median else None
        return series(label or c.name, mean, lo=lo, hi=hi, median=median, **kw)

    def x(self, role: str) -> np.ndarray:
        """The x of a panel of ``role`` alone: its change points when step-like."""
        c = self.curves[role]
        return c.step_points[0] if c.steplike else c.groups[0]

    def shared_x(self) -> np.ndarray:
        """The x of a panel of several series (every curve has the same groups)."""
        return self.curves[next(iter(self.curves.roles))].groups[0] if self.curves.roles \
            else np.zeros(0)

    def phases(self) -> dict[str, list]:
        lo, hi = self.xlim
        m = self.marks
        vlines, spans = [], []
        if m.switch is not None and m.switch <= hi:
            s = max(m.switch, lo)
            spans.append(span(s, hi, SWITCH_COLOR, 0.05))
            vlines.append(vline(s, SWITCH_COLOR, m.switch_label))
        for r in m.resumes:
            if lo <= r <= hi:
                vlines.append(vline(r, RESUME_COLOR, f"resumed @ {fmt_step(r)}", (2, 3), "bottom"))
        return {"vlines": vlines, "spans": spans, "points": [], "hlines": []}

    def findings(self, marks: dict[str, list], curve: Curve, axis: str = "y") -> None:
        """Spikes (▼ at the value), non-finite records (× at the top), divergence (a band), a
        pinned weight (a dashed level): as the PNGs mark them."""
        for f in self.marks.on(curve.name):
            color = SEVERITY_COLORS.get(f.severity, "#5d6d7e")
            kind = f.id
            st = np.asarray(f.steps, dtype="float64")
            if kind == "divergence" and len(st):
                marks["spans"].append(span(st.min(), max(st.max(), self.xlim[1]), color, 0.08,
                                           kind))
            elif kind in ("non_finite", "nan", "nonfinite"):
                marks["points"] += [{"x": float(s), "y": None, "axis": axis, "color": color,
                                     "shape": "x", "label": kind} for s in st]
            else:
                idx = np.searchsorted(curve.steps, st).clip(0, len(curve.steps) - 1)
                yv = curve.values[idx]
                marks["points"] += [{"x": float(s), "y": float(v), "axis": axis, "color": color,
                                     "shape": "v", "label": kind}
                                    for s, v in zip(st, yv, strict=True) if np.isfinite(v)]
        bounds = curve.bounds
        if bounds is not None and bounds[0] == bounds[1]:
            marks["hlines"].append({"y": bounds[0], "axis": axis, "color": "#566573",
                                    "label": f"{curve.name} = {bounds[0]:g} in every finite record"})
        for f in self.marks.findings:
            if f.metric == curve.name and f.hline is not None:
                marks["hlines"].append({"y": f.hline, "axis": axis,
                                        "color": SEVERITY_COLORS.get(f.severity, "#5d6d7e"),
                                        "label": f"pinned at {num(f.hline)} ({f.id})"})

    def metric_panel(self, role: str, title: str, ylabel: str, height: int = 300,
                     half: bool = False) -> dict[str, Any]:
        if role not in self.curves:
            return panel(title, [], [], note=f"{title}: no {LABELS.get(role, role)} column in "
                                             "these records", height=height, half=half)
        c = self.curves[role]
        kind, thresh = c.scale
        marks = self.phases()
        self.findings(marks, c)
        ids = self.marks.ids_on(c.name)
        title += f"  [{', '.join(dict.fromkeys(ids))}]" if ids else ""
        return panel(title, self.x(role), [self.series(role)],
                     scales={"y": scale(kind, thresh, ylabel)}, marks=marks, height=height,
                     half=half)


def build_charts(curves: Curves, marks: Marks, smoothing: Smoothing | None = None
                 ) -> dict[str, list[dict[str, Any]]]:
    """{figure key: panels} for the eight figures of figures.FIGURES, from the same curves."""
    from radiovae.report.figures import NORMALIZED_ROLES, YLABELS, _adversarial_role

    b = _Builder(curves, marks, smoothing or Smoothing())
    c = curves
    out: dict[str, list[dict[str, Any]]] = {}
    for key, role, title in (("total_loss", "total", "Total loss"), ("kl_loss", "kl", "KL loss"),
                             ("rec_loss", "rec", "Reconstruction loss")):
        name = f"{title}: {c.name(role)}" if role in c else title
        out[key] = [b.metric_panel(role, name, YLABELS.get(role, role), 340)]

    if "disc_loss" in c:
        disc = [b.metric_panel("disc_loss", f"Discriminator loss: {c.name('disc_loss')}",
                               "discriminator loss")]
        logits = [r for r in ("logits_real", "logits_fake") if r in c]
        if logits:
            m = b.phases()
            for r in logits:
                b.findings(m, c[r])
            x = b.shared_x()
            disc.append(panel("Discriminator logits (real vs. reconstructed)", x,
                              [b.series(r, on=x) for r in logits],
                              scales={"y": scale(label="logit")},
                              marks=m, height=240))
    else:
        roles = [r for r in ("g_loss", "d_weight", "disc_factor") if r in c]
        disc = [b.metric_panel(r, f"{LABELS[r]}: {c.name(r)}", YLABELS.get(r, r), 220)
                for r in roles] or [panel("Discriminator / adversarial terms", [], [], note=(
                    "no discriminator or adversarial columns in these records"))]
    out["disc_loss"] = disc

    adv = _adversarial_role(c)
    adv_title = "Discriminator loss" if "disc_loss" in c else "Generator loss"
    out["overview"] = [b.metric_panel(role or "disc_loss", title, YLABELS.get(role or "", ""), 260,
                                      half=True)
                       for role, title in (("total", "Total loss"), ("kl", "KL loss"),
                                           ("rec", "Reconstruction loss"), (adv, adv_title))]

    norm = []
    for role in NORMALIZED_ROLES:
        if role not in c or (role == "nll" and "rec" in c):
            continue
        v = c[role].values[c[role].finite]
        if len(v) < 2:
            continue
        lo, hi = (float(q) for q in np.percentile(v, [0.5, 99.5]))
        norm.append((role, b.series(role, f"{c.name(role)} [{num(lo)} … {num(hi)}]",
                                    on=b.shared_x(), norm=(lo, hi), width=1.8)))
    out["normalized"] = [panel(
        "Normalized loss comparison (each curve scaled to its own 0.5–99.5 % range)",
        b.shared_x() if norm else [], [s for _r, s in norm],
        scales={"y": scale(label="normalized (0 … 1)")}, marks=b.phases(), height=360,
        note="" if norm else "no loss columns with two or more finite records")]

    roles = [r for r in ("total", "kl", "rec", adv) if r and r in c]
    scales, ser = {}, []
    marks_ = b.phases()
    for i, role in enumerate(roles):
        axis = "y" if i == 0 else f"y{i}"
        kind, thresh = c[role].scale
        scales[axis] = scale(kind, thresh, c.name(role), "left" if i == 0 else "right",
                             b.colors.get(role))
        ser.append(b.series(role, on=b.shared_x(), axis=axis, raw=False,
                            width=1.0 if i == 3 else 1.7))
        if i == 0:
            b.findings(marks_, c[role])
    out["multi_axis"] = [panel(
        f"Multi-axis comparison: each loss on its own y-axis ({b.smoothing.short})",
        b.shared_x() if roles else [], ser, scales=scales or None, marks=marks_, height=380,
        note="" if roles else "no loss columns in these records")]

    cells = [("total", "Total loss"), ("kl", "KL loss"), ("rec", "Reconstruction loss"),
             (adv, adv_title), ("lr", "Learning rate"), ("d_weight", "Adaptive weight d_weight")]
    out["dashboard"] = [b.metric_panel(role or "disc_loss", title, c.name(role)
                                       if role and role in c else "", 220, half=True)
                        for role, title in cells] + [_timeline(b)]
    return out


def _timeline(b: _Builder, phase: bool = True) -> dict[str, Any]:
    """The dashboard's phases-and-findings row: per finding, ticks at the steps it names, a bar
    over the steps it spans, a faint line when it is run-wide (as figures._phase_and_findings);
    ``phase=False``: no disc_factor row (a run without a VAE-GAN phase)."""
    from radiovae.report.figures import _SEVERITY_ORDER
    found = sorted(b.marks.findings, key=lambda f: _SEVERITY_ORDER.get(f.severity, 3))[:10]
    rows = []
    for f in found:
        steps, rng = f.steps, f.span
        metric = str(f.metric or "run").removeprefix("train/")
        rows.append({"label": f"{f.id} · {metric}"[:36],
                     "color": SEVERITY_COLORS.get(f.severity, "#5d6d7e"),
                     "ticks": [float(s) for s in steps], "range": list(rng) if rng else None,
                     "wide": not rng and (not steps or not f.on_curve)})
    x = b.curves.steps[[0, -1]] if len(b.curves.steps) else []
    ser = []
    if phase and "disc_factor" in b.curves:
        # its records as steps (change points), never group means: a switch, not a ramp
        cv = b.curves["disc_factor"]
        x, y = cv.step_points if cv.steplike else (cv.groups[0], cv.groups[3])
        top = float(np.nanmax(y)) if np.isfinite(y).any() and np.nanmax(y) > 0 else 1.0
        ser = [series("disc_factor (phase)", y, raw=False, smooth=False, step=True,
                      color=SWITCH_COLOR, norm=(0.0, top))]
    return panel(("Phases and findings" if phase else "Findings")
                 + " (ticks: steps a finding names; bar: steps it spans; faint: run-wide)",
                 x, ser, marks=b.phases(),
                 height=70 + 22 * len(rows), timeline={"rows": rows})
