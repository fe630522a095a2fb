"""The figures of a stage-2 run (RadioDiff's train_cond_ldm.py; also a run of unknown kind): its
own metrics, as PNGs and as the page's interactive charts.

Which metrics: :func:`radiovae.analysis.panels.stage2_roles` (total loss, loss_simple, loss_vlb
unless it is 0 throughout, lr: those the run logs). One figure per metric, an overview of them
all, and a dashboard of them plus the findings. Nothing of a VAE: no KL / reconstruction /
discriminator panel, no VAE-GAN phase row or switch line (a stage-2 run has no phases).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from radiovae.analysis.panels import stage2_roles
from radiovae.analysis.schema import Marks, Summary
from radiovae.report.charts import _Builder, _timeline, panel
from radiovae.report.figures import (
    YLABELS,
    Painter,
    _clip,
    _missing,
    _phase_and_findings,
    _single,
)
from radiovae.report.series import Curves, Smoothing

TITLES = {"total": "Total loss", "loss_simple": "Diffusion loss", "loss_vlb": "VLB term",
          "lr": "Learning rate"}
STAGE2_YLABELS = {**YLABELS, "loss_simple": "loss_simple (diffusion objective)",
                  "loss_vlb": "loss_vlb"}
NO_PANELS = "no loss or learning-rate column in these records"


def panels(p: Painter, summary: Summary) -> list[str]:
    """The roles drawn: the run's stage-2 roles that these records have a column for."""
    return [r for r in stage2_roles(summary) if r in p.curves]


# -- PNG ----------------------------------------------------------------------------------------
def _metric(role: str) -> Callable:
    def draw(p: Painter, plt, summary: Summary):
        return _single(p, plt, role, TITLES[role])
    return draw


def _grid(p: Painter, plt, roles: list[str], fig, gs) -> None:
    """One panel per role, two per row."""
    for k, role in enumerate(roles):
        ax = fig.add_subplot(gs[k // 2, k % 2])
        bottom = k >= len(roles) - 2
        p.panel(ax, role, TITLES[role], STAGE2_YLABELS.get(role, role), legend=False,
                xlabel=bottom)


def fig_overview(p: Painter, plt, summary: Summary):
    roles = panels(p, summary)
    rows = max(1, -(-len(roles) // 2))
    fig = plt.figure(figsize=(13, 1.2 + 3.5 * rows))
    gs = fig.add_gridspec(rows, 2 if len(roles) > 1 else 1, hspace=0.35, wspace=0.18,
                          left=0.07, right=0.98, top=1 - 0.9 / (1.2 + 3.5 * rows), bottom=0.08)
    if roles:
        _grid(p, plt, roles, fig, gs)
    else:
        _missing(fig.add_subplot(gs[0, 0]), NO_PANELS)
    handles = next((h for ax in fig.axes if len(h := ax.get_legend_handles_labels()[0]) >= 2),
                   None)
    if handles:   # the first panel with raw and smoothed lines stands for all
        fig.legend(handles[:2], ["raw", p.smoothing.short], loc="upper right", ncol=2)
    fig.suptitle("Training overview", x=0.01, ha="left", fontsize=13, fontweight="bold")
    return fig


def fig_dashboard(p: Painter, plt, summary: Summary):
    roles = panels(p, summary)
    rows = max(1, -(-len(roles) // 2))
    n_rows = min(len(p.marks.findings), 10)
    height = 2.2 + 3.2 * rows + 0.6 + 0.3 * n_rows
    fig = plt.figure(figsize=(14, height))
    gs = fig.add_gridspec(rows + 1, 2, height_ratios=[1] * rows + [0.2 + 0.1 * max(n_rows, 1)],
                          hspace=0.42, wspace=0.2, left=0.13, right=0.98,
                          top=1 - 1.1 / height, bottom=0.5 / height)
    if roles:
        _grid(p, plt, roles, fig, gs)
    else:
        _missing(fig.add_subplot(gs[0, :]), NO_PANELS)
    _phase_and_findings(p, fig.add_subplot(gs[rows, :]), phase=False)
    verdict = summary.verdict
    fig.suptitle("Complete training dashboard" + (f" — verdict: {verdict}" if verdict else ""),
                 x=0.01, ha="left", fontsize=14, fontweight="bold")
    if summary.verdict_reason:
        fig.text(0.01, 1 - 0.75 / height, _clip(summary.verdict_reason, 190),
                 fontsize=9.5, color="#566573")
    return fig


STAGE2_DRAW: dict[str, Callable] = {
    "total_loss": _metric("total"), "loss_simple": _metric("loss_simple"),
    "loss_vlb": _metric("loss_vlb"), "lr": _metric("lr"),
    "overview": fig_overview, "dashboard": fig_dashboard,
}


# -- interactive charts -------------------------------------------------------------------------
def build_stage2_charts(curves: Curves, marks: Marks, summary: Summary,
                        smoothing: Smoothing | None = None) -> dict[str, list[dict[str, Any]]]:
    """{figure key: panels} for the figures of a stage-2 run (figures.figure_list)."""
    b = _Builder(curves, marks, smoothing or Smoothing())
    roles = [r for r in stage2_roles(summary) if r in curves]
    out: dict[str, list[dict[str, Any]]] = {}
    for key, role in (("total_loss", "total"), ("loss_simple", "loss_simple"),
                      ("loss_vlb", "loss_vlb"), ("lr", "lr")):
        if role in roles:
            out[key] = [b.metric_panel(role, f"{TITLES[role]}: {curves.name(role)}",
                                       STAGE2_YLABELS.get(role, role), 340)]
    cells = [b.metric_panel(r, TITLES[r], STAGE2_YLABELS.get(r, r), 260, half=len(roles) > 1)
             for r in roles] or [panel("Training overview", [], [], note=NO_PANELS)]
    out["overview"] = cells
    findings = (_timeline(b, phase=False) if marks.findings
                else panel("Findings", [], [], note="Findings: none in these records."))
    out["dashboard"] = [b.metric_panel(r, TITLES[r], curves.name(r), 220, half=len(roles) > 1)
                        for r in roles] + [findings]
    return out
