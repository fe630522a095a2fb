"""The figures of a stage-2 run (RadioDiff's train_cond_ldm.py; also a run of unknown kind): its
own metrics, described once (figspec) for the PNGs and the page's interactive charts.

Which metrics: :func:`radiovae.analysis.panels.stage2_roles` (total loss, loss_simple, loss_vlb
unless it is 0 throughout, lr: those the run logs). One figure per metric, an overview of them
all, and a dashboard of them plus the findings. Nothing of a VAE: no KL / reconstruction /
discriminator panel, no VAE-GAN phase row or switch line (a stage-2 run has no phases).
"""

from __future__ import annotations

from collections.abc import Callable

from radiovae.analysis.panels import stage2_roles
from radiovae.report.figspec import (
    YLABELS,
    Describer,
    FigureSpec,
    PanelSpec,
    dashboard_heading,
    single,
)

TITLES = {"total": "Total loss", "loss_simple": "Diffusion loss", "loss_vlb": "VLB term",
          "lr": "Learning rate"}
NO_PANELS = "no loss or learning-rate column in these records"


def roles(d: Describer) -> list[str]:
    """The roles drawn: the run's stage-2 roles that these records have a column for."""
    return [r for r in stage2_roles(d.summary) if r in d.curves]


def _grid(d: Describer, drawn: list[str], height: int, ylabel: Callable[[str], str],
          legend: str | None = None) -> list[PanelSpec]:
    """One panel per role, two per row (one alone spans the row)."""
    cols = 1 if len(drawn) == 1 else 2
    return [d.metric(r, TITLES[r], ylabel(r), cell=(k // 2, k % 2, 2 // cols), height=height,
                     legend=legend, xlabel=k >= len(drawn) - 2) for k, r in enumerate(drawn)]


def _overview(d: Describer) -> FigureSpec:
    drawn = roles(d)
    rows = max(1, -(-len(drawn) // 2))
    height = 1.2 + 3.5 * rows
    panels = _grid(d, drawn, 260, lambda r: YLABELS.get(r, r)) or [
        PanelSpec("Training overview", note=NO_PANELS)]
    return FigureSpec("", "", panels, size=(13, height), grid=(rows, 2),
                      heading="Training overview", raw_smoothed_legend=True,
                      margins=dict(hspace=0.35, wspace=0.18, left=0.07, right=0.98,
                                   top=1 - 0.9 / height, bottom=0.08))


def _dashboard(d: Describer) -> FigureSpec:
    drawn = roles(d)
    rows = max(1, -(-len(drawn) // 2))
    timeline = d.timeline(phase=False, cell=(rows, 0, 2))
    found = len(timeline.timeline.rows)
    if not found:
        timeline = PanelSpec("Findings: none", note="No finding in these records.",
                             cell=timeline.cell, height=70)
    height = 2.2 + 3.2 * rows + 0.6 + 0.3 * found
    panels = _grid(d, drawn, 220, d.curves.name) or [
        PanelSpec("Complete dashboard", note=NO_PANELS, cell=(0, 0, 2))]
    spec = FigureSpec("", "", [*panels, timeline], size=(14, height), grid=(rows + 1, 2),
                      height_ratios=[1] * rows + [0.2 + 0.1 * max(found, 1)],
                      subheading_y=1 - 0.75 / height,
                      margins=dict(hspace=0.42, wspace=0.2, left=0.13, right=0.98,
                                   top=1 - 1.1 / height, bottom=0.5 / height))
    return dashboard_heading(spec, d.summary)


def _metric(role: str) -> Callable[[Describer], FigureSpec]:
    return lambda d: single(d, role, TITLES[role])


STAGE2_DESCRIBE: dict[str, Callable[[Describer], FigureSpec]] = {
    "total_loss": _metric("total"), "loss_simple": _metric("loss_simple"),
    "loss_vlb": _metric("loss_vlb"), "lr": _metric("lr"),
    "overview": _overview, "dashboard": _dashboard,
}
