"""One description per figure, drawn by two renderers: the PNG painter (report/png.py) and the
page's interactive chart (report/charts.py, drawn by assets/charts.js).

A :class:`FigureSpec` is built once from the run's curves, the marks the analysis computed
(``summary.marks``), the smoothing and the summary: its panels, each panel's series, scales and
marks, the dashboard's timeline rows, and its titles. A colour, a marker rule or a title is
changed here (or in the figure's builder) and both renderers follow; neither re-derives a mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from radiovae.analysis.findings.base import SEVERITY
from radiovae.analysis.schema import FindingMark, Marks, Summary
from radiovae.fmt import fmt_step, num
from radiovae.report.series import LABELS, Curve, Curves, Smoothing

# -- the one colour table ---------------------------------------------------------------------------
COLORS = {"total": "#1f4e9c", "kl": "#c0392b", "rec": "#1e8449", "nll": "#117a65",
          "disc_loss": "#7d3c98", "g_loss": "#7d3c98", "d_weight": "#b9770e",
          "disc_factor": "#5d6d7e", "lr": "#2e86c1", "logits_real": "#16a085",
          "logits_fake": "#d35400", "loss_simple": "#1e8449", "loss_vlb": "#b9770e"}
SEVERITY_COLORS = {"critical": "#c0392b", "warning": "#d68910", "info": "#5d6d7e"}
SWITCH_COLOR = "#7d3c98"     # the VAE -> VAE-GAN switch, its phase shading and phase row
RESUME_COLOR = "#566573"     # resume lines
MUTED = "#566573"            # notes: a missing panel, a scale's name
DEFAULT_COLOR = "#333333"    # a metric with no colour of its own


def role_color(role: str) -> str:
    return COLORS.get(role, DEFAULT_COLOR)


def severity_color(severity: str) -> str:
    return SEVERITY_COLORS.get(severity, SEVERITY_COLORS["info"])


YLABELS = {
    "total": "total loss",
    "kl": "KL divergence (summed over latent)",
    "rec": "rec_loss (mean per pixel)",
    "nll": "NLL (summed over pixels)",
    "disc_loss": "discriminator loss",
    "g_loss": "g_loss",
    "d_weight": "d_weight",
    "disc_factor": "disc_factor",
    "lr": "learning rate",
    "loss_simple": "loss_simple (diffusion objective)",
    "loss_vlb": "loss_vlb",
}
TIMELINE_ROWS = 10
ROW_LABEL = 36          # characters of a timeline row's label
PHASE_ROW = "phase (shaded: VAE-GAN)"


# -- the description ----------------------------------------------------------------------------------
@dataclass
class SeriesSpec:
    """One metric on a panel: its records (faint: each record, or each group's min … max) under
    a line smoothed as the figure states, or, for a step-like series (a schedule, a switch), its
    values held until they change, never smoothed."""

    role: str
    curve: Curve
    label: str
    color: str
    axis: str = "y"                          # the panel scale it is drawn on
    raw: bool = True                         # the faint records under the line
    width: float = 1.7
    alpha: float = 1.0
    norm: tuple[float, float] | None = None  # drawn mapped from (lo, hi) to 0 … 1
    fill: bool = False                       # filled below (the timeline's phase row)

    @property
    def steps(self) -> bool:
        return self.curve.steplike


@dataclass
class ScaleSpec:
    kind: str = "linear"                     # linear | log | symlog
    thresh: float | None = None              # symlog's linear band
    label: str = ""
    side: str = "left"
    color: str | None = None


@dataclass
class Mark:
    """Something drawn over the curves at given steps.

    ``switch``: the VAE -> VAE-GAN switch at ``xs[0]``, its phase shaded to ``xs[1]``;
    ``resume``: a line at ``xs[0]``; ``band``: a shaded range ``xs[0]`` … ``xs[1]`` (a
    divergence); ``point``: a finding at each of ``xs`` (shape ``v`` at the value ``ys[i]``,
    ``x`` at the top: a non-finite record); ``hline``: a level ``ys[0]`` (a pinned weight);
    ``constant``: a series equal to ``ys[0]`` in every record (said in a box, or as a level).
    """

    kind: str
    color: str
    xs: list[float] = field(default_factory=list)
    ys: list[float | None] = field(default_factory=list)
    label: str = ""
    shape: str = ""
    axis: str = "y"


@dataclass
class TimelineRow:
    """One finding on the dashboard's timeline: ticks at its steps, a bar over its span, a faint
    line across the run when it names neither (run-wide)."""

    label: str
    color: str
    ticks: list[float]
    range: tuple[float, float] | None
    wide: bool


@dataclass
class Timeline:
    rows: list[TimelineRow]
    phase: bool                              # a phase row first (disc_factor, VAE-GAN shaded)


@dataclass
class PanelSpec:
    """One axes of the PNG, one chart of the page. ``note``: said instead of an empty panel."""

    title: str
    series: list[SeriesSpec] = field(default_factory=list)
    scales: dict[str, ScaleSpec] = field(default_factory=lambda: {"y": ScaleSpec()})
    marks: list[Mark] = field(default_factory=list)
    note: str = ""
    cell: tuple[int, int, int] = (0, 0, 1)  # grid row, column, columns spanned
    height: int = 300                        # the chart's height (px)
    legend: str | None = "best"              # best | outside | below | None (PNG)
    legend_title: str = ""
    xlabel: bool = True
    ylim: tuple[float, float] | None = None
    timeline: Timeline | None = None


@dataclass
class FigureSpec:
    """A figure: its panels on a grid (the PNG's layout; the page puts half-width panels side by
    side), a heading above them, and the figure-wide legend of the overview."""

    name: str
    title: str
    panels: list[PanelSpec]
    xlim: tuple[float, float] = (0.0, 1.0)   # the run's steps
    size: tuple[float, float] = (10, 4.6)
    grid: tuple[int, int] = (1, 1)
    height_ratios: list[float] | None = None
    margins: dict[str, float] = field(default_factory=dict)
    sharex: bool = False
    heading: str = ""
    heading_size: float = 13.0
    heading_color: str = "black"
    heading_bold: bool = True
    subheading: str = ""                     # under the heading (the verdict's reason)
    subheading_y: float = 0.945
    raw_smoothed_legend: bool = False        # one legend for all panels: raw, smoothed

    def half(self, p: PanelSpec) -> bool:
        return p.cell[2] < self.grid[1]


def clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# -- building descriptions ------------------------------------------------------------------------------
class Describer:
    """Builds panels from a run's curves and marks: every figure's series, scales and marks come
    from here, so each is decided once."""

    def __init__(self, curves: Curves, marks: Marks, smoothing: Smoothing | None = None,
                 summary: Summary | None = None):
        self.curves, self.marks, self.summary = curves, marks, summary
        self.smoothing = smoothing or Smoothing()
        steps = curves.steps
        lo, hi = (float(steps.min()), float(steps.max())) if len(steps) else (0.0, 1.0)
        self.xlim = (lo, hi) if lo < hi else (lo - 1, hi + 1)

    def series(self, role: str, label: str | None = None, **kw) -> SeriesSpec:
        kw.setdefault("color", role_color(role))
        return SeriesSpec(role, self.curves[role], label or self.curves.name(role), **kw)

    def scale(self, role: str, label: str = "", **kw) -> ScaleSpec:
        kind, thresh = self.curves[role].scale
        return ScaleSpec(kind, thresh, label, **kw)

    # -- marks ------------------------------------------------------------------------------------
    def phases(self, labels: bool = True) -> list[Mark]:
        """The VAE -> VAE-GAN switch (its phase shaded) and every resume, within the run's steps."""
        lo, hi = self.xlim
        out = []
        m = self.marks
        if m.switch is not None and m.switch <= hi:
            out.append(Mark("switch", SWITCH_COLOR, [max(m.switch, lo), hi],
                            label=m.switch_label if labels else ""))
        out += [Mark("resume", RESUME_COLOR, [r], label=f"resumed @ {fmt_step(r)}" if labels
                     else "") for r in m.resumes if lo <= r <= hi]
        return out

    def findings(self, curve: Curve, axis: str = "y", constant_color: str | None = None
                 ) -> list[Mark]:
        """The marks of findings about ``curve``: a divergence as a band from its first step to
        the end, a non-finite record as × at the top, a spike as ▼ at its value; a pinned
        weight's level; and the value of a series constant in every finite record."""
        out = []
        for f in self.marks.on(curve.name):
            color = severity_color(f.severity)
            xs = [float(s) for s in f.steps]
            if f.id == "divergence":
                out.append(Mark("band", color, [min(xs), max(max(xs), self.xlim[1])],
                                label=f.id, axis=axis))
            elif f.id == "non_finite":
                out.append(Mark("point", color, xs, [None] * len(xs), f.id, "x", axis))
            else:
                idx = np.searchsorted(curve.steps, f.steps).clip(0, len(curve.steps) - 1)
                y = curve.values[idx]
                ok = np.isfinite(y)
                out.append(Mark("point", color, [x for x, k in zip(xs, ok, strict=True) if k],
                                [float(v) for v in y[ok]], f.id, "v", axis))
        for f in self.pinned(curve.name):
            out.append(Mark("hline", severity_color(f.severity), [], [f.hline],
                            f"pinned at {num(f.hline)} ({f.id})", axis=axis))
        b = curve.bounds
        if b is not None and b[0] == b[1]:
            out.append(Mark("constant", constant_color or MUTED, [], [b[0]],
                            f"{curve.name} = {b[0]:g} in every finite record", axis=axis))
        return out

    def pinned(self, metric: str) -> list[FindingMark]:
        return [f for f in self.marks.findings if f.metric == metric and f.hline is not None]

    def title_ids(self, role: str, title: str) -> str:
        """``title`` with the warning / critical findings about ``role``'s metric."""
        ids = self.marks.ids_on(self.curves.name(role))
        return title + (f"  [{', '.join(dict.fromkeys(ids))}]" if ids else "")

    # -- panels -----------------------------------------------------------------------------------
    def metric(self, role: str | None, title: str, ylabel: str, *, cell=(0, 0, 1),
               height: int = 300, legend: str | None = "best", xlabel: bool = True,
               missing: str | None = None) -> PanelSpec:
        """One metric on one panel: its series, scale, the phases, its findings; the title names
        the warning / critical ones. ``missing``: the note when the run has no such column."""
        if not role or role not in self.curves:
            note = missing or (f"no {LABELS.get(role, role)} column in these records" if role
                               else "not in these records")
            return PanelSpec(title, note=note, cell=cell, height=height, xlabel=xlabel)
        s = self.series(role)
        return PanelSpec(self.title_ids(role, title), [s], {"y": self.scale(role, ylabel)},
                         self.phases() + self.findings(s.curve, constant_color=s.color),
                         cell=cell, height=height, legend=legend, xlabel=xlabel)

    def timeline(self, phase: bool = True, cell=(0, 0, 1)) -> PanelSpec:
        """The dashboard's last row: the phase (disc_factor filled, VAE-GAN shaded) when
        ``phase``, then one row per finding, the most severe first."""
        found = sorted(self.marks.findings, key=lambda f: -SEVERITY.get(f.severity, -1))
        rows = [_row(f) for f in found[:TIMELINE_ROWS]]
        series = []
        if phase and "disc_factor" in self.curves:
            c = self.curves["disc_factor"]
            y = c.values[c.finite]
            top = float(y.max()) if len(y) and y.max() > 0 else 1.0
            series = [self.series("disc_factor", "disc_factor (phase)", color=SWITCH_COLOR,
                                  raw=False, norm=(0.0, top), fill=True)]
        head = "Phases and findings" if phase else "Findings" if rows else "Findings: none"
        return PanelSpec(head + " (ticks: steps a finding names; bar: steps it spans; faint: "
                         "run-wide; red critical, amber warning, grey info)", series,
                         marks=self.phases(), cell=cell, height=70 + 22 * len(rows),
                         legend=None, timeline=Timeline(rows, phase))


def _row(f: FindingMark) -> TimelineRow:
    metric = (f.metric or "run").removeprefix("train/")
    span = (float(f.span[0]), float(f.span[1])) if f.span else None
    return TimelineRow(clip(f"{f.id} · {metric}", ROW_LABEL), severity_color(f.severity),
                       [float(s) for s in f.steps], span,
                       wide=span is None and (not f.steps or not f.on_curve))


# -- shared by the VAE and the stage-2 figures ---------------------------------------------------
SINGLE = dict(left=0.09, right=0.98, top=0.9, bottom=0.12)


def single(d: Describer, role: str, title: str) -> FigureSpec:
    """One metric alone (its own figure)."""
    name = f"{title}: {d.curves.name(role)}" if role in d.curves else title
    return FigureSpec("", "", [d.metric(role, name, YLABELS.get(role, role), height=340)],
                      margins=SINGLE)


def dashboard_heading(spec: FigureSpec, summary: Summary | None) -> FigureSpec:
    verdict = summary.verdict if summary is not None else ""
    spec.heading = "Complete training dashboard" + (f" — verdict: {verdict}" if verdict else "")
    spec.heading_size = 14
    if summary is not None and summary.verdict_reason:
        spec.subheading = clip(summary.verdict_reason, 190)
    return spec
