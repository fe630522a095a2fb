"""The eight figures of a RadioDiff VAE training report (matplotlib, Agg).

Every curve is drawn twice: raw (each record, or on long runs a light band from the min to the
max of each group of consecutive records, so spikes survive) and smoothed (TensorBoard's debiased
EMA by default, see series.Smoothing). Every axis marks the VAE → VAE-GAN switch, resumes, and the steps of findings
(non-finite values, spikes, divergence). matplotlib is imported only when drawing starts.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radiovae.analysis.schema import Marks
from radiovae.fmt import fmt_step, num
from radiovae.io import atomic_path
from radiovae.report.series import LABELS, Curve, Curves, Smoothing

DPI = 100
COLORS = {"total": "#1f4e9c", "kl": "#c0392b", "rec": "#1e8449", "nll": "#117a65",
          "disc_loss": "#7d3c98", "g_loss": "#7d3c98", "d_weight": "#b9770e", "disc_factor": "#5d6d7e",
          "lr": "#2e86c1", "logits_real": "#16a085", "logits_fake": "#d35400",
          "loss_simple": "#1e8449", "loss_vlb": "#b9770e"}
SEVERITY_COLORS = {"critical": "#c0392b", "warning": "#d68910", "info": "#5d6d7e"}

# (file stem, title) in report order: a VAE run's eight figures
FIGURES = [
    ("total_loss", "Total loss"),
    ("kl_loss", "KL loss"),
    ("rec_loss", "Reconstruction loss"),
    ("disc_loss", "Discriminator / adversarial terms"),
    ("overview", "Training overview"),
    ("normalized", "Normalized comparison"),
    ("multi_axis", "Multi-axis loss comparison"),
    ("dashboard", "Complete dashboard"),
]
# a stage-2 (or unknown-kind) run's figures: its own metrics (analysis.panels); a metric's figure
# only when the run logs it (loss_vlb only when it is not 0 throughout)
STAGE2_FIGURES = [
    ("total_loss", "Total loss"),
    ("loss_simple", "Diffusion loss"),
    ("loss_vlb", "VLB term"),
    ("lr", "Learning rate"),
    ("overview", "Training overview"),
    ("dashboard", "Complete dashboard"),
]
ALL_FIGURES = FIGURES + [f for f in STAGE2_FIGURES if f not in FIGURES]
STAGE2_FIGURE_ROLE = {"total_loss": "total", "loss_simple": "loss_simple", "loss_vlb": "loss_vlb",
                      "lr": "lr"}


def figure_list(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(file stem, title) of the figures this run gets, in report order."""
    from radiovae.analysis.panels import stage2_roles

    if summary.kind == "vae":
        return FIGURES
    roles = stage2_roles(summary)
    return [(k, t) for k, t in STAGE2_FIGURES
            if k not in STAGE2_FIGURE_ROLE or STAGE2_FIGURE_ROLE[k] in roles]


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


MAX_RESUME_LABELS = 8   # more resumes get one count label, not a label each


class Painter:
    """Draws curves and marks onto axes; shared by all eight figures."""

    def __init__(self, curves: Curves, marks: Marks, smoothing: Smoothing | None = None):
        self.curves, self.marks = curves, marks
        self.smoothing = smoothing or Smoothing()
        steps = curves.steps
        self.xlim = (float(steps.min()), float(steps.max())) if len(steps) else (0.0, 1.0)
        if self.xlim[0] == self.xlim[1]:
            self.xlim = (self.xlim[0] - 1, self.xlim[1] + 1)

    # -- axes decoration ------------------------------------------------------------------------
    def steps_axis(self, ax, label: bool = True) -> None:
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator("auto", steps=[1, 2, 2.5, 5, 10], integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(fmt_step))
        ax.set_xlim(*self.xlim)
        if label:
            ax.set_xlabel("training step")

    def phases(self, ax, labels: bool = True) -> None:
        """Shade VAE-GAN, draw the switch and resume lines with labels at the top."""
        from matplotlib.transforms import blended_transform_factory

        tr = blended_transform_factory(ax.transData, ax.transAxes)
        lo, hi = self.xlim
        if self.marks.switch is not None and self.marks.switch <= hi:
            s = max(self.marks.switch, lo)
            ax.axvspan(s, hi, color="#7d3c98", alpha=0.05, lw=0)
            ax.axvline(s, color="#7d3c98", lw=1.2, ls="--")
            if labels:
                ax.text(s, 0.98, " " + self.marks.switch_label, transform=tr, fontsize=7.5,
                        color="#7d3c98", va="top", ha="left", rotation=0,
                        bbox=dict(fc="white", ec="none", alpha=0.7, pad=1))
        shown = [r for r in self.marks.resumes if lo <= r <= hi]
        if shown:   # one collection for all resume lines: 2,000 segments are one artist
            ax.vlines(shown, 0, 1, transform=tr, colors="#566573", lw=1.0, ls=":")
        if labels and len(shown) <= MAX_RESUME_LABELS:
            for r in shown:
                ax.text(r, 0.02, f" resumed @ {fmt_step(r)}", transform=tr, fontsize=7.5,
                        color="#566573", va="bottom", ha="left",
                        bbox=dict(fc="white", ec="none", alpha=0.7, pad=1))
        elif labels:
            ax.text(shown[0], 0.02, f" {len(shown):,} resumes", transform=tr, fontsize=7.5,
                    color="#566573", va="bottom", ha="left",
                    bbox=dict(fc="white", ec="none", alpha=0.7, pad=1))

    def findings(self, ax, curve: Curve) -> None:
        """Mark non-finite steps (x at the top), spikes (▼ at the value), divergence (band)."""
        from matplotlib.transforms import blended_transform_factory

        tr = blended_transform_factory(ax.transData, ax.transAxes)
        labelled = set()
        for f in self.marks.on(curve.name):
            steps = f.steps
            color = SEVERITY_COLORS.get(f.severity, "#5d6d7e")
            kind = f.id
            label = None if kind in labelled else kind
            labelled.add(kind)
            steps_arr = np.asarray(steps)
            if kind == "divergence" and len(steps_arr) >= 1:
                ax.axvspan(steps_arr.min(), max(steps_arr.max(), self.xlim[1]), color=color,
                           alpha=0.08, lw=0, label=label)
            elif kind in ("non_finite", "nan", "nonfinite"):
                ax.scatter(steps_arr, np.full(len(steps_arr), 0.97), transform=tr, marker="x",
                           color=color, s=30, zorder=5, label=label, clip_on=False)
            else:
                idx = np.searchsorted(curve.steps, steps_arr).clip(0, len(curve.steps) - 1)
                yv = curve.values[idx]
                ok = np.isfinite(yv)
                ax.scatter(steps_arr[ok], yv[ok], marker="v", color=color, s=34, zorder=5,
                           edgecolor="white", linewidth=0.5, label=label)

    def levels(self, ax, curve: Curve) -> None:
        """A dashed line at the value a weight is pinned to (weight_saturated's evidence)."""
        for f in self.marks.findings:
            if f.metric == curve.name and f.hline is not None:
                ax.axhline(f.hline, color=SEVERITY_COLORS.get(f.severity, "#5d6d7e"),
                           lw=1.0, ls="--", zorder=1)
                ax.text(0.99, f.hline, f"pinned at {num(f.hline)} ({f.id}) ",
                        transform=ax.get_yaxis_transform(), ha="right", va="top", fontsize=7.5,
                        color=SEVERITY_COLORS.get(f.severity, "#5d6d7e"))

    def scale(self, ax, curve: Curve) -> str:
        kind, thresh = curve.scale
        if kind == "log":
            ax.set_yscale("log")
        elif kind == "symlog":
            ax.set_yscale("symlog", linthresh=thresh)
        return kind

    # -- curves ---------------------------------------------------------------------------------
    @staticmethod
    def raw(ax, c: Curve, color: str, label: str | None = None, unit=None, alpha: float = 1.0):
        """The records: each one (a thin line, dots when few) while there are at most
        SMOOTH_POINTS; beyond, a band from the min to the max of each smoothing group (cheaper
        to draw than 2k zig-zag points, and a one-step spike still shows)."""
        unit = unit or (lambda y: y)
        x, lo, hi, _mean = c.groups
        if len(x) == len(c.steps):
            few = len(c.steps) < 60
            ax.plot(x, unit(lo), color=color, lw=0.6, alpha=(0.6 if few else 0.3) * alpha,
                    marker="o" if few else None, ms=3, label=label)
        else:
            ax.fill_between(x, unit(lo), unit(hi), color=color, alpha=0.25 * alpha, lw=0,
                            label=label)

    def curve(self, ax, role: str, color: str | None = None, label: str | None = None,
              marks: bool = True, raw: bool = True, scale: bool = True):
        c = self.curves[role]
        color = color or COLORS.get(role, "#333333")
        label = label or c.name
        if c.steplike:      # a schedule or switch: its steps as they are, never smoothed
            (line,) = ax.plot(*c.step_points, drawstyle="steps-post", color=color, lw=1.7,
                              label=f"{label} (steps, not smoothed)")
        else:
            if raw:
                self.raw(ax, c, color, f"{label} (raw)")
            (line,) = ax.plot(*c.smoothed(self.smoothing), color=color, lw=1.7,
                              label=f"{label} ({self.smoothing.short})")
        if scale:
            kind = self.scale(ax, c)
            if kind != "linear":
                ax.text(1.0, 1.0, f"{kind} scale", transform=ax.transAxes, fontsize=7,
                        ha="right", va="bottom", color="#566573")
        if marks:
            self.findings(ax, c)
            self.levels(ax, c)
        b = c.bounds
        if b is not None and b[0] == b[1]:
            ax.text(0.5, 0.6, f"{c.name} = {b[0]:g} in every finite record", transform=ax.transAxes,
                    ha="center", fontsize=9, color=color,
                    bbox=dict(fc="white", ec=color, alpha=0.9, pad=3))
        return line

    def panel(self, ax, role: str, title: str, ylabel: str, legend: bool = True,
              xlabel: bool = True) -> None:
        """One metric on one axes, with phases, findings and a status subtitle."""
        self.curve(ax, role)
        self.phases(ax)
        self.steps_axis(ax, xlabel)
        ids = self.marks.ids_on(self.curves.name(role))
        _title(ax, title + (f"  [{', '.join(dict.fromkeys(ids))}]" if ids else ""))
        ax.set_ylabel(ylabel)
        if legend:
            ax.legend(loc="best")


def _title(ax, text: str) -> None:
    """Left title at a fixed height (matplotlib's automatic title placement costs ~20 ms/axes)."""
    ax.set_title(text, loc="left", y=1.0, pad=6)


def _missing(ax, text: str) -> None:
    """An empty panel that says why (axis off: shared x-ticks of the other panels stay)."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#566573",
            fontsize=10, wrap=True)


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
}


# -- the eight figures ------------------------------------------------------------------------------
def _single(p: Painter, plt, role: str, title: str):
    fig, ax = plt.subplots(figsize=(10, 4.6))
    if role in p.curves:
        p.panel(ax, role, f"{title}: {p.curves.name(role)}", YLABELS.get(role, role))
    else:
        _missing(ax, f"no {LABELS[role]} column in these records")
        _title(ax, title)
    fig.subplots_adjust(left=0.09, right=0.98, top=0.9, bottom=0.12)
    return fig


def fig_total(p: Painter, plt):
    return _single(p, plt, "total", "Total loss")


def fig_kl(p: Painter, plt):
    return _single(p, plt, "kl", "KL loss")


def fig_rec(p: Painter, plt):
    return _single(p, plt, "rec", "Reconstruction loss")


def fig_disc(p: Painter, plt):
    """The discriminator loss and logits if logged; otherwise the adversarial terms that exist."""
    c = p.curves
    if "disc_loss" in c:
        roles = ["disc_loss"] + [r for r in ("logits_real", "logits_fake") if r in c]
        fig, axes = plt.subplots(2 if len(roles) > 1 else 1, 1, figsize=(10, 6.5 if len(roles) > 1
                                                                            else 4.6), sharex=True,
                                 squeeze=False)
        p.panel(axes[0, 0], "disc_loss", f"Discriminator loss: {c.name('disc_loss')}", "discriminator loss",
                xlabel=len(roles) == 1)
        if len(roles) > 1:
            ax = axes[1, 0]
            for r in roles[1:]:
                p.curve(ax, r, marks=True, scale=False)
            p.phases(ax, labels=False)
            p.steps_axis(ax)
            _title(ax, "Discriminator logits (real vs. reconstructed)")
            ax.set_ylabel("logit")
            ax.legend(loc="best")
        fig.subplots_adjust(left=0.09, right=0.98, top=0.93, bottom=0.09, hspace=0.3)
        return fig
    roles = [r for r in ("g_loss", "d_weight", "disc_factor") if r in c]
    if not roles:
        fig, ax = plt.subplots(figsize=(10, 4.6))
        _missing(ax, "no discriminator or adversarial columns in these records")
        _title(ax, "Discriminator / adversarial terms")
        return fig
    fig, axes = plt.subplots(len(roles), 1, figsize=(10, 2.6 * len(roles) + 0.8), sharex=True,
                             squeeze=False)
    for i, r in enumerate(roles):
        p.panel(axes[i, 0], r, f"{LABELS[r]}: {c.name(r)}", YLABELS.get(r, r),
                xlabel=i == len(roles) - 1)
    fig.suptitle("No discriminator loss in these records: the adversarial terms that were logged",
                 x=0.01, ha="left", fontsize=10, color="#566573")
    fig.subplots_adjust(left=0.09, right=0.98, top=0.9, bottom=0.08, hspace=0.45)
    return fig


def _adversarial_role(c: Curves) -> str | None:
    return "disc_loss" if "disc_loss" in c else ("g_loss" if "g_loss" in c else None)


def fig_overview(p: Painter, plt):
    c = p.curves
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.2))
    panels = [("total", "Total loss"), ("kl", "KL loss"), ("rec", "Reconstruction loss"),
              (_adversarial_role(c), "Discriminator loss" if "disc_loss" in c else "Generator loss")]
    for ax, (role, title), bottom in zip(axes.flat, panels, (False, False, True, True), strict=True):
        if role and role in c:
            p.panel(ax, role, title, YLABELS.get(role, role), legend=False, xlabel=bottom)
        else:
            _missing(ax, f"{title}: not in these records")
    handles = next((h for ax in axes.flat if len(h := ax.get_legend_handles_labels()[0]) >= 2),
                   None)
    if handles:   # the first drawn panel's raw and smoothed lines stand for all four
        fig.legend(handles[:2], ["raw", p.smoothing.short], loc="upper right", ncol=2)
    fig.suptitle("Training overview", x=0.01, ha="left", fontsize=13, fontweight="bold")
    fig.subplots_adjust(left=0.07, right=0.98, top=0.91, bottom=0.07, hspace=0.25, wspace=0.18)
    return fig


NORMALIZED_ROLES = ("total", "kl", "rec", "nll", "disc_loss", "g_loss")


def _unit(y: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((y - lo) / (hi - lo), 0, 1) if hi > lo else np.full_like(y, 0.5)


def fig_normalized(p: Painter, plt):
    c = p.curves
    fig, ax = plt.subplots(figsize=(11, 5))
    drawn = 0
    for role in NORMALIZED_ROLES:
        if role not in c or (role == "nll" and "rec" in c):
            continue
        cv = c[role]
        v = cv.values[cv.finite]
        if len(v) < 2:
            continue
        lo, hi = np.percentile(v, [0.5, 99.5])
        color = COLORS.get(role)
        if cv.steplike:
            sx, sy = cv.step_points
        else:
            p.raw(ax, cv, color, unit=lambda y, lo=lo, hi=hi: _unit(y, lo, hi), alpha=0.5)
            sx, sy = cv.smoothed(p.smoothing)
        ax.plot(sx, _unit(sy, lo, hi), color=color, lw=1.8,
                drawstyle="steps-post" if cv.steplike else "default",
                label=f"{cv.name}  [{num(lo)} … {num(hi)}]")
        drawn += 1
    p.phases(ax)
    p.steps_axis(ax)
    ax.set_ylim(-0.03, 1.08)
    ax.set_ylabel("normalized (0 … 1 = its 0.5–99.5 % range)")
    _title(ax, "Normalized loss comparison (each curve scaled to its own 0.5–99.5 % range)")
    if drawn:
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0),
                  title="metric  [range mapped to 0…1]", title_fontsize=8)
    fig.subplots_adjust(left=0.07, right=0.72, top=0.9, bottom=0.11)
    return fig


def fig_multi_axis(p: Painter, plt):
    c = p.curves
    roles = [r for r in ("total", "kl", "rec", _adversarial_role(c)) if r and r in c]
    fig, host = plt.subplots(figsize=(12, 5.2))
    if not roles:
        _missing(host, "no loss columns in these records")
        return fig
    axes = [host] + [host.twinx() for _ in roles[1:]]
    lines = []
    for i, (ax, role) in enumerate(zip(axes, roles, strict=True)):
        color = COLORS.get(role, "#333333")
        if i >= 2:
            ax.spines["right"].set_position(("outward", 62 * (i - 1)))
        ax.spines["right"].set_visible(i >= 1)
        line = p.curve(ax, role, marks=i == 0, raw=False)   # four raw clouds would hide all
        if i == 3:                                 # the noisy adversarial term: in the back
            line.set_linewidth(1.0)
            line.set_alpha(0.6)
        line.set_label(c.name(role))
        lines.append(line)
        ax.set_ylabel(c.name(role), color=color)
        ax.tick_params(axis="y", colors=color)
        ax.grid(i == 0)
    p.phases(host)
    p.steps_axis(host)
    _title(host, f"Multi-axis comparison: each loss on its own y-axis ({p.smoothing.short})")
    host.legend(lines, [ln.get_label() for ln in lines], loc="upper center",
                bbox_to_anchor=(0.5, -0.13), ncol=len(lines))
    fig.subplots_adjust(left=0.08, right=0.98 - 0.065 * max(len(roles) - 1, 0), top=0.9,
                        bottom=0.2)
    return fig


def fig_dashboard(p: Painter, plt, summary: dict[str, Any] | None = None):
    c = p.curves
    fig = plt.figure(figsize=(14, 12.5))
    n_rows = min(len(p.marks.findings), 10)
    gs = fig.add_gridspec(4, 2, height_ratios=[1, 1, 1, 0.35 + 0.1 * n_rows], hspace=0.42,
                          wspace=0.2, left=0.13, right=0.98, top=0.9, bottom=0.05)
    cells = [("total", "Total loss"), ("kl", "KL loss"), ("rec", "Reconstruction loss"),
             (_adversarial_role(c), "Discriminator loss" if "disc_loss" in c else "Generator loss"),
             ("lr", "Learning rate"), ("d_weight", "Adaptive weight d_weight")]
    for k, (role, title) in enumerate(cells):
        ax = fig.add_subplot(gs[k // 2, k % 2])
        if role and role in c:
            p.panel(ax, role, title, c.name(role), legend=False, xlabel=k >= 4)
        else:
            _missing(ax, f"{title}: not in these records")
            _title(ax, title)
    ax = fig.add_subplot(gs[3, :])
    _phase_and_findings(p, ax)
    verdict = summary.verdict if summary is not None else None
    title = "Complete training dashboard"
    if verdict:
        title += f" — verdict: {verdict}"
    fig.suptitle(title, x=0.01, ha="left", fontsize=14, fontweight="bold")
    reason = summary.verdict_reason if summary is not None else None
    if reason:
        fig.text(0.01, 0.945, _clip(str(reason), 190), fontsize=9.5, color="#566573")
    return fig


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _phase_and_findings(p: Painter, ax, phase: bool = True) -> None:
    """disc_factor as a filled step line, plus one row per finding: ticks at the steps it names,
    a faint line across the run when it names none. ``phase=False`` (a run with no VAE-GAN
    phase, e.g. stage 2): the finding rows only."""
    c = p.curves
    if phase and "disc_factor" in c:
        x, y = c["disc_factor"].raw
        top = np.nanmax(y) if np.isfinite(y).any() and np.nanmax(y) > 0 else 1.0
        ax.fill_between(x, 0, y / top, step="post", color="#7d3c98", alpha=0.15)
    p.phases(ax)
    rows = sorted(p.marks.findings, key=lambda f: _SEVERITY_ORDER.get(f.severity, 3))[:10]
    ticks, labels = ([0.5], ["phase (shaded: VAE-GAN)"]) if phase else ([], [])
    base = 1.0 if phase else 0.0          # the phase row takes 0 … 1
    for i, f in enumerate(reversed(rows)):
        yrow = base + 0.5 + i
        color = SEVERITY_COLORS.get(f.severity, "#5d6d7e")
        steps, rng = f.steps, f.span
        if rng:
            ax.plot(rng, [yrow, yrow], color=color, lw=5, alpha=0.6, solid_capstyle="butt")
        if steps:
            ax.scatter(steps, np.full(len(steps), yrow), marker="|", s=160, color=color, lw=2)
        if not rng and (not steps or not f.on_curve):
            ax.plot(p.xlim, [yrow, yrow], color=color, lw=3, alpha=0.25, solid_capstyle="butt")
        ticks.append(yrow)
        metric = str(f.metric or "run").removeprefix("train/")
        labels.append(_clip(f"{f.id} · {metric}", 36))
    ax.set_ylim(-0.1, max(base + len(rows), 1.0) + 0.1)
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels, fontsize=7.5)
    for tick, f in zip(ax.get_yticklabels()[1 if phase else 0:], reversed(rows), strict=True):
        tick.set_color(SEVERITY_COLORS.get(f.severity, "#5d6d7e"))
    ax.grid(False)
    p.steps_axis(ax)
    _title(ax, ("Phases and findings" if phase else "Findings" if rows else "Findings: none")
           + " (ticks: steps a finding names; bar: steps it spans; faint: run-wide; red "
             "critical, amber warning, grey info)")


_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


DRAW: dict[str, Callable] = {
    "total_loss": fig_total, "kl_loss": fig_kl, "rec_loss": fig_rec, "disc_loss": fig_disc,
    "overview": fig_overview, "normalized": fig_normalized, "multi_axis": fig_multi_axis,
    "dashboard": fig_dashboard,
}


# the eight figures in two halves of about equal drawing time (CPU-s per figure, 150k records:
# dashboard 0.36, overview 0.22, multi_axis / normalized / disc_loss 0.12-0.13, the others 0.08)
HALVES = (("dashboard", "overview"),
          ("total_loss", "kl_loss", "rec_loss", "disc_loss", "normalized", "multi_axis"))


def _draw(painter: Painter, plt, summary: dict[str, Any], name: str, out_dir: Path) -> Path:
    if summary.kind != "vae":     # a stage-2 run: its own figures
        from radiovae.report.stage2_figures import STAGE2_DRAW

        fig = STAGE2_DRAW[name](painter, plt, summary)
    else:
        draw = DRAW[name]
        fig = draw(painter, plt, summary) if name == "dashboard" else draw(painter, plt)
    path = out_dir / f"{name}.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, pil_kwargs={"compress_level": 3})
    plt.close(fig)
    return path


def _draw_some(table, summary: dict[str, Any], out_dir: Path, smoothing: Smoothing | None,
               names: Sequence[str]) -> list[str]:
    plt = pyplot()
    painter = Painter(Curves(table), summary.marks, smoothing)
    return [str(_draw(painter, plt, summary, name, out_dir)) for name in names]


class Drawing:
    """Two worker processes that draw the figures, started before the records are read.

    Started first, each imports matplotlib (~0.3 s of pure Python) on the second core while this
    process reads and analyses; then each draws half of the figures from the table and summary it
    is sent (a pickle of the metric columns: ~15 MB, ~20 ms, for 150k records). This process never
    imports matplotlib. Forked, so only where fork exists and before any thread is started.
    """

    def __init__(self, workers: int = 2):
        from radiovae.procs import worker_pool

        self.pool = worker_pool(workers, warm=_warm)   # they end with this process
        self.pool.submit(int)   # forks every worker now (fork start method), without waiting

    def draw(self, table, summary, out_dir: Path, smoothing: Smoothing | None,
             on_done: Callable[[str], None] | None) -> dict[str, Path]:
        cols = ["step", *dict.fromkeys(Curves(table).roles.values())]
        table = table[cols]
        jobs = [(names, self.pool.submit(_draw_some, table, summary, out_dir, smoothing, names))
                for names in _halves(summary)]
        paths = {}
        for names, job in jobs:
            for name, path in zip(names, job.result(), strict=True):
                paths[name] = Path(path)
                if on_done:
                    on_done(name)
        return paths

    def close(self) -> None:
        self.pool.shutdown()

    def kill(self) -> None:
        """Interrupted: end the workers now, before their output folder is removed."""
        from radiovae.procs import kill_pool

        kill_pool(self.pool)


def _halves(summary: dict[str, Any]) -> tuple[tuple[str, ...], ...]:
    """HALVES for a VAE run; a stage-2 run's dashboard and overview, then its other figures."""
    names = [name for name, _title in figure_list(summary)]
    if names == [name for name, _title in FIGURES]:
        return HALVES
    big = ("dashboard", "overview")
    return tuple(h for h in (big, tuple(n for n in names if n not in big)) if h)


def _warm() -> None:
    pyplot()


def start_drawing(workers: int | None = None) -> Drawing | None:
    """Workers for :func:`draw_figures`, started now (None where one core or no fork)."""
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    if workers < 2 or "fork" not in mp.get_all_start_methods():
        return None
    return Drawing(workers)


def draw_figures(table, summary: dict[str, Any], out_dir: Path,
                 on_done: Callable[[str], None] | None = None,
                 workers: int | None = None,
                 smoothing: Smoothing | None = None,
                 drawing: Drawing | None = None) -> dict[str, Path]:
    """Draw the eight figures of ``table`` into ``out_dir``/<name>.png (atomically).

    ``drawing``: workers started earlier (:func:`start_drawing`; closed here); else, with two or
    more cores, two are started now; with one, the figures are drawn in this process.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [name for name, _title in figure_list(summary)]
    drawing = drawing or start_drawing(workers)
    if drawing is not None:
        try:
            paths = drawing.draw(table, summary, out_dir, smoothing, on_done)
        except BaseException:
            drawing.kill()
            raise
        finally:
            drawing.close()
        return {name: paths[name] for name in names}
    plt = pyplot()
    painter = Painter(Curves(table), summary.marks, smoothing)
    paths = {}
    for name in names:
        paths[name] = _draw(painter, plt, summary, name, out_dir)
        if on_done:
            on_done(name)
    return paths


def caption_smoothing(doc, note: str) -> None:
    """Set ``note`` (what the thick lines are: Smoothing.describe) on every drawn figure of
    ``doc``: each caption states the smoothing it shows."""
    for section in doc.sections:
        for block in section.blocks:
            if getattr(block, "path", None) and Path(block.path).stem in dict(ALL_FIGURES):
                block.note = note
