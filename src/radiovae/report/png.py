"""The PNG renderer: paints a :class:`~radiovae.report.figspec.FigureSpec` with matplotlib (Agg).

It decides only how things look on paper (line widths, marker sizes, where a label sits); what
is drawn, in which colour, with which title, comes from the description. matplotlib is imported
only when drawing starts.
"""

from __future__ import annotations

import numpy as np

from radiovae.fmt import fmt_step
from radiovae.report.figspec import MUTED, PHASE_ROW, FigureSpec, Mark, PanelSpec, SeriesSpec
from radiovae.report.series import Curve, Smoothing

DPI = 100
MAX_RESUME_LABELS = 8   # more resumes get one count label, not a label each


def pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "font.size": 9, "axes.titlesize": 11, "axes.titleweight": "bold", "axes.labelsize": 9,
        "axes.grid": True, "grid.alpha": 0.25, "axes.spines.top": False, "legend.fontsize": 8,
        "legend.framealpha": 0.85, "figure.facecolor": "white", "path.simplify": True,
    })
    return plt


def paint(spec: FigureSpec, plt, smoothing: Smoothing):
    """The figure ``spec`` describes, as a matplotlib Figure (the caller saves and closes it)."""
    fig = plt.figure(figsize=spec.size)
    gs = fig.add_gridspec(*spec.grid, height_ratios=spec.height_ratios, **spec.margins)
    first = None
    for p in spec.panels:
        row, col, cols = p.cell
        ax = fig.add_subplot(gs[row, col:col + cols], sharex=first if spec.sharex else None)
        first = first or ax
        if p.note:
            _note(ax, p)
            continue
        _Panel(ax, p, spec.xlim, smoothing).draw()
        if spec.sharex and not p.xlabel:
            ax.tick_params(labelbottom=False)
    if spec.heading:
        fig.suptitle(spec.heading, x=0.01, ha="left", fontsize=spec.heading_size,
                     color=spec.heading_color, fontweight="bold" if spec.heading_bold else None)
    if spec.subheading:
        fig.text(0.01, spec.subheading_y, spec.subheading, fontsize=9.5, color=MUTED)
    if spec.raw_smoothed_legend:   # the first panel's raw and smoothed lines stand for all
        handles = next((h for ax in fig.axes if len(h := ax.get_legend_handles_labels()[0]) >= 2),
                       None)
        if handles:
            fig.legend(handles[:2], ["raw", smoothing.short], loc="upper right", ncol=2)
    return fig


def _title(ax, text: str) -> None:
    """Left title at a fixed height (matplotlib's automatic title placement costs ~20 ms/axes)."""
    ax.set_title(text, loc="left", y=1.0, pad=6)


def _note(ax, p: PanelSpec) -> None:
    """An empty panel that says why (axis off: shared x-ticks of the other panels stay)."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, p.note, transform=ax.transAxes, ha="center", va="center", color=MUTED,
            fontsize=10, wrap=True)
    _title(ax, p.title)


def _unit(y: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((y - lo) / (hi - lo), 0, 1) if hi > lo else np.full_like(y, 0.5)


def _raw(ax, c: Curve, color: str, label: str | None, unit, alpha: float) -> None:
    """The records: each one (a thin line, dots when few) while one group is one record;
    beyond, a band from the min to the max of each group (a one-step spike still shows)."""
    x, lo, hi, _mean = c.groups
    if len(x) == len(c.steps):
        few = len(c.steps) < 60
        ax.plot(x, unit(lo), color=color, lw=0.6, alpha=(0.6 if few else 0.3) * alpha,
                marker="o" if few else None, ms=3, label=label)
    else:
        ax.fill_between(x, unit(lo), unit(hi), color=color, alpha=0.25 * alpha, lw=0, label=label)


class _Panel:
    def __init__(self, ax, p: PanelSpec, xlim: tuple[float, float], smoothing: Smoothing):
        self.ax, self.p, self.xlim, self.smoothing = ax, p, xlim, smoothing
        self.axes = {"y": ax}
        self.labelled: set[str] = set()

    def draw(self) -> None:
        p, ax = self.p, self.ax
        self.scales()
        plain = p.legend in ("outside", "below")   # a legend of lines, one entry per series
        lines = [self.series(s, plain) for s in p.series]
        resumes = [m for m in p.marks if m.kind == "resume"]
        for m in p.marks:
            if m.kind != "resume":
                self.mark(self.axes.get(m.axis, ax), m)
        self.resumes(resumes)
        if p.timeline is not None:
            self.timeline()
        ax.xaxis.set_major_locator(_locator())
        ax.xaxis.set_major_formatter(_formatter())
        ax.set_xlim(*self.xlim)
        if p.xlabel:
            ax.set_xlabel("training step")
        if p.ylim:
            ax.set_ylim(*p.ylim)
        _title(ax, p.title)
        drawn = [ln for ln in lines if ln is not None]
        if p.legend == "best":
            ax.legend(loc="best")
        elif p.legend == "outside" and drawn:
            ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), title=p.legend_title or None,
                      title_fontsize=8)
        elif p.legend == "below" and drawn:
            ax.legend(drawn, [ln.get_label() for ln in drawn], loc="upper center",
                      bbox_to_anchor=(0.5, -0.13), ncol=len(drawn))

    def scales(self) -> None:
        """Each scale on its own y axis (the first: the panel's; more: right, outward)."""
        many = len(self.p.scales) > 1
        notes = []
        for i, (key, sc) in enumerate(self.p.scales.items()):
            ax = self.ax if i == 0 else self.ax.twinx()
            self.axes[key] = ax
            if sc.kind == "log":
                ax.set_yscale("log")
            elif sc.kind == "symlog":
                ax.set_yscale("symlog", linthresh=sc.thresh)
            if sc.kind != "linear":
                notes.append(f"{sc.label}: {sc.kind} scale" if many else f"{sc.kind} scale")
            if sc.label and self.p.timeline is None:
                ax.set_ylabel(sc.label, color=sc.color or "black")
            if many:
                if i >= 2:
                    ax.spines["right"].set_position(("outward", 62 * (i - 1)))
                ax.spines["right"].set_visible(i >= 1)
                if sc.color:
                    ax.tick_params(axis="y", colors=sc.color)
                ax.grid(i == 0)
        if notes:
            self.ax.text(1.0, 1.0, "; ".join(notes), transform=self.ax.transAxes, fontsize=7,
                         ha="right", va="bottom", color=MUTED)

    def series(self, s: SeriesSpec, plain: bool):
        ax, c = self.axes[s.axis], s.curve
        unit = (lambda y: _unit(y, *s.norm)) if s.norm else (lambda y: y)
        if s.fill:
            x, y = c.step_points if c.steplike else (c.groups[0], c.groups[3])
            ax.fill_between(x, 0, unit(y), step="post", color=s.color, alpha=0.15)
            return None
        if c.steplike:      # a schedule or switch: its steps as they are, never smoothed
            x, y = c.step_points
            (line,) = ax.plot(x, unit(y), drawstyle="steps-post", color=s.color, lw=s.width,
                              alpha=s.alpha,
                              label=s.label if plain else f"{s.label} (steps, not smoothed)")
            return line
        if s.raw:
            _raw(ax, c, s.color, None if plain else f"{s.label} (raw)", unit,
                 0.5 if s.norm else 1.0)
        x, y = c.smoothed(self.smoothing)
        (line,) = ax.plot(x, unit(y), color=s.color, lw=s.width, alpha=s.alpha,
                          label=s.label if plain else f"{s.label} ({self.smoothing.short})")
        return line

    def legend_label(self, m: Mark) -> str | None:
        """A finding's id in the legend once per panel."""
        if m.label in self.labelled:
            return None
        self.labelled.add(m.label)
        return m.label

    def mark(self, ax, m: Mark) -> None:
        from matplotlib.transforms import blended_transform_factory

        top = blended_transform_factory(ax.transData, ax.transAxes)
        if m.kind == "switch":
            ax.axvspan(m.xs[0], m.xs[1], color=m.color, alpha=0.05, lw=0)
            ax.axvline(m.xs[0], color=m.color, lw=1.2, ls="--")
            if m.label:
                ax.text(m.xs[0], 0.98, " " + m.label, transform=top, fontsize=7.5, color=m.color,
                        va="top", ha="left", bbox=dict(fc="white", ec="none", alpha=0.7, pad=1))
        elif m.kind == "band":
            ax.axvspan(m.xs[0], m.xs[1], color=m.color, alpha=0.08, lw=0,
                       label=self.legend_label(m))
        elif m.kind == "point" and m.shape == "x":
            ax.scatter(m.xs, np.full(len(m.xs), 0.97), transform=top, marker="x", color=m.color,
                       s=30, zorder=5, label=self.legend_label(m), clip_on=False)
        elif m.kind == "point":
            ax.scatter(m.xs, m.ys, marker="v", color=m.color, s=34, zorder=5, edgecolor="white",
                       linewidth=0.5, label=self.legend_label(m))
        elif m.kind == "hline":
            ax.axhline(m.ys[0], color=m.color, lw=1.0, ls="--", zorder=1)
            ax.text(0.99, m.ys[0], m.label + " ", transform=ax.get_yaxis_transform(), ha="right",
                    va="top", fontsize=7.5, color=m.color)
        elif m.kind == "constant":
            ax.text(0.5, 0.6, m.label, transform=ax.transAxes, ha="center", fontsize=9,
                    color=m.color, bbox=dict(fc="white", ec=m.color, alpha=0.9, pad=3))

    def resumes(self, marks: list[Mark]) -> None:
        """One collection for all resume lines (2,000 segments are one artist); a label each,
        or one count label when there are many."""
        if not marks:
            return
        from matplotlib.transforms import blended_transform_factory

        ax = self.ax
        top = blended_transform_factory(ax.transData, ax.transAxes)
        color = marks[0].color
        ax.vlines([m.xs[0] for m in marks], 0, 1, transform=top, colors=color, lw=1.0, ls=":")
        labels = [(m.xs[0], m.label) for m in marks if m.label]
        if len(labels) > MAX_RESUME_LABELS:
            labels = [(labels[0][0], f"{len(labels):,} resumes")]
        for x, text in labels:
            ax.text(x, 0.02, f" {text}", transform=top, fontsize=7.5, color=color, va="bottom",
                    ha="left", bbox=dict(fc="white", ec="none", alpha=0.7, pad=1))

    def timeline(self) -> None:
        """One row per finding (the most severe on top), under the phase row when there is one."""
        ax, tl = self.ax, self.p.timeline
        ticks, labels = ([0.5], [PHASE_ROW]) if tl.phase else ([], [])
        base = 1.0 if tl.phase else 0.0       # the phase row takes 0 … 1
        for i, r in enumerate(reversed(tl.rows)):
            y = base + 0.5 + i
            if r.range:
                ax.plot(r.range, [y, y], color=r.color, lw=5, alpha=0.6, solid_capstyle="butt")
            if r.ticks:
                ax.scatter(r.ticks, np.full(len(r.ticks), y), marker="|", s=160, color=r.color,
                           lw=2)
            if r.wide:
                ax.plot(self.xlim, [y, y], color=r.color, lw=3, alpha=0.25, solid_capstyle="butt")
            ticks.append(y)
            labels.append(r.label)
        ax.set_ylim(-0.1, max(base + len(tl.rows), 1.0) + 0.1)
        ax.set_yticks(ticks)
        ax.set_yticklabels(labels, fontsize=7.5)
        for tick, r in zip(ax.get_yticklabels()[1 if tl.phase else 0:], reversed(tl.rows),
                           strict=True):
            tick.set_color(r.color)
        ax.grid(False)


def _locator():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator("auto", steps=[1, 2, 2.5, 5, 10], integer=True)


def _formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(fmt_step)
