"""The figures of a training report: which figures a run gets, each one's description, and
drawing them as PNGs in two worker processes.

A VAE run gets eight figures; a stage-2 (or unknown-kind) run its own (report/stage2_figures.py).
Each figure is one :class:`~radiovae.report.figspec.FigureSpec` built by :func:`describe`; the PNG
painter (report/png.py) and the page's interactive charts (report/charts.py) both draw it. Every
curve is drawn raw (each record, or a light min … max band per group of records, so spikes
survive) and smoothed (TensorBoard's debiased EMA by default, see series.Smoothing); every panel
marks the VAE → VAE-GAN switch, resumes and the findings summary.marks places on it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from radiovae.analysis.schema import Summary
from radiovae.fmt import num
from radiovae.io import atomic_path
from radiovae.report.figspec import (
    SINGLE,
    YLABELS,
    Describer,
    FigureSpec,
    PanelSpec,
    ScaleSpec,
    dashboard_heading,
    role_color,
    single,
)
from radiovae.report.png import DPI, paint, pyplot
from radiovae.report.series import LABELS, Curves, Smoothing
from radiovae.report.stage2_figures import STAGE2_DESCRIBE

__all__ = ["DPI", "pyplot", "FIGURES", "figure_list", "describe", "draw_figures", "Drawing",
           "start_drawing", "caption_smoothing"]

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


def figure_list(summary: Summary) -> list[tuple[str, str]]:
    """(file stem, title) of the figures this run gets, in report order."""
    from radiovae.analysis.panels import stage2_roles

    if summary.kind == "vae":
        return FIGURES
    roles = stage2_roles(summary)
    return [(k, t) for k, t in STAGE2_FIGURES
            if k not in STAGE2_FIGURE_ROLE or STAGE2_FIGURE_ROLE[k] in roles]


def describe(curves: Curves, summary: Summary, smoothing: Smoothing | None = None,
             names: Sequence[str] | None = None) -> dict[str, FigureSpec]:
    """{file stem: description} of the run's figures (``names``: only those), in report order."""
    d = Describer(curves, summary.marks, smoothing, summary)
    listed = figure_list(summary)
    build = DESCRIBE if summary.kind == "vae" else STAGE2_DESCRIBE
    wanted = set(names) if names is not None else None
    out = {}
    for name, title in listed:
        if wanted is None or name in wanted:
            spec = build[name](d)
            spec.name, spec.title, spec.xlim = name, title, d.xlim
            out[name] = spec
    return out


# -- the eight VAE figures ------------------------------------------------------------------------------
def _disc(d: Describer) -> FigureSpec:
    """The discriminator loss and logits if logged; otherwise the adversarial terms that exist."""
    c = d.curves
    if "disc_loss" in c:
        logits = [r for r in ("logits_real", "logits_fake") if r in c]
        panels = [d.metric("disc_loss", f"Discriminator loss: {c.name('disc_loss')}",
                           YLABELS["disc_loss"], xlabel=not logits)]
        if logits:
            series = [d.series(r) for r in logits]
            marks = d.phases(labels=False) + [m for s in series for m in d.findings(
                s.curve, constant_color=s.color)]
            panels.append(PanelSpec("Discriminator logits (real vs. reconstructed)", series,
                                    {"y": ScaleSpec(label="logit")}, marks, cell=(1, 0, 1),
                                    height=240))
        return FigureSpec("", "", panels, size=(10, 6.5 if logits else 4.6),
                          grid=(2 if logits else 1, 1), sharex=True,
                          margins=dict(left=0.09, right=0.98, top=0.93, bottom=0.09, hspace=0.3))
    roles = [r for r in ("g_loss", "d_weight", "disc_factor") if r in c]
    if not roles:
        return FigureSpec("", "", [PanelSpec("Discriminator / adversarial terms", note=(
            "no discriminator or adversarial columns in these records"))], margins=SINGLE)
    panels = [d.metric(r, f"{LABELS[r]}: {c.name(r)}", YLABELS.get(r, r), cell=(i, 0, 1),
                       height=220, xlabel=i == len(roles) - 1) for i, r in enumerate(roles)]
    return FigureSpec("", "", panels, size=(10, 2.6 * len(roles) + 0.8), grid=(len(roles), 1),
                      sharex=True, heading="No discriminator loss in these records: the "
                      "adversarial terms that were logged", heading_size=10,
                      heading_color="#566573", heading_bold=False,
                      margins=dict(left=0.09, right=0.98, top=0.9, bottom=0.08, hspace=0.45))


def _adversarial(c: Curves) -> tuple[str | None, str]:
    """The adversarial panel's role and title: the discriminator loss, else the generator's."""
    if "disc_loss" in c:
        return "disc_loss", "Discriminator loss"
    return ("g_loss" if "g_loss" in c else None), "Generator loss"


def _four(d: Describer) -> list[tuple[str | None, str]]:
    return [("total", "Total loss"), ("kl", "KL loss"), ("rec", "Reconstruction loss"),
            _adversarial(d.curves)]


def _overview(d: Describer) -> FigureSpec:
    panels = [d.metric(role, title, YLABELS.get(role or "", role or ""), cell=(k // 2, k % 2, 1),
                       height=260, legend=None, xlabel=k >= 2)
              for k, (role, title) in enumerate(_four(d))]
    return FigureSpec("", "", panels, size=(13, 8.2), grid=(2, 2), heading="Training overview",
                      raw_smoothed_legend=True,
                      margins=dict(left=0.07, right=0.98, top=0.91, bottom=0.07, hspace=0.25,
                                   wspace=0.18))


NORMALIZED_ROLES = ("total", "kl", "rec", "nll", "disc_loss", "g_loss")


def _normalized(d: Describer) -> FigureSpec:
    """Every loss mapped to its own 0.5–99.5 % range (the legend says each range)."""
    c = d.curves
    series = []
    for role in NORMALIZED_ROLES:
        if role not in c or (role == "nll" and "rec" in c):
            continue
        v = c[role].values[c[role].finite]
        if len(v) < 2:
            continue
        lo, hi = (float(q) for q in np.percentile(v, [0.5, 99.5]))
        series.append(d.series(role, f"{c.name(role)}  [{num(lo)} … {num(hi)}]", norm=(lo, hi),
                               width=1.8))
    panel = PanelSpec(
        "Normalized loss comparison (each curve scaled to its own 0.5–99.5 % range)", series,
        {"y": ScaleSpec(label="normalized (0 … 1 = its 0.5–99.5 % range)")}, d.phases(),
        note="" if series else "no loss columns with two or more finite records", height=360,
        legend="outside", legend_title="metric  [range mapped to 0…1]", ylim=(-0.03, 1.08))
    return FigureSpec("", "", [panel], size=(11, 5),
                      margins=dict(left=0.07, right=0.72, top=0.9, bottom=0.11))


def _multi_axis(d: Describer) -> FigureSpec:
    """Each loss smoothed on its own y axis (no raw clouds: four would hide all); the first
    one's findings marked; the noisy adversarial term thin, in the back."""
    c = d.curves
    roles = [r for r, _t in _four(d) if r and r in c]
    scales, series = {}, []
    for i, role in enumerate(roles):
        axis = "y" if i == 0 else f"y{i}"
        scales[axis] = d.scale(role, c.name(role), side="left" if i == 0 else "right",
                               color=role_color(role))
        series.append(d.series(role, axis=axis, raw=False, width=1.0 if i == 3 else 1.7,
                               alpha=0.6 if i == 3 else 1.0))
    marks = d.phases() + (d.findings(series[0].curve, constant_color=series[0].color)
                          if series else [])
    panel = PanelSpec(f"Multi-axis comparison: each loss on its own y-axis ({d.smoothing.short})",
                      series, scales or {"y": ScaleSpec()}, marks,
                      note="" if roles else "no loss columns in these records", height=380,
                      legend="below")
    return FigureSpec("", "", [panel], size=(12, 5.2), margins=dict(
        left=0.08, right=0.98 - 0.065 * max(len(roles) - 1, 0), top=0.9, bottom=0.2))


def _dashboard(d: Describer) -> FigureSpec:
    c = d.curves
    cells = [*_four(d), ("lr", "Learning rate"), ("d_weight", "Adaptive weight d_weight")]
    panels = [d.metric(role, title, c.name(role) if role and role in c else "",
                       cell=(k // 2, k % 2, 1), height=220, legend=None, xlabel=k >= 4)
              for k, (role, title) in enumerate(cells)]
    panels.append(d.timeline(cell=(3, 0, 2)))
    rows = len(panels[-1].timeline.rows)
    return dashboard_heading(FigureSpec(
        "", "", panels, size=(14, 12.5), grid=(4, 2), height_ratios=[1, 1, 1, 0.35 + 0.1 * rows],
        margins=dict(hspace=0.42, wspace=0.2, left=0.13, right=0.98, top=0.9, bottom=0.05)),
        d.summary)


DESCRIBE: dict[str, Callable[[Describer], FigureSpec]] = {
    "total_loss": lambda d: single(d, "total", "Total loss"),
    "kl_loss": lambda d: single(d, "kl", "KL loss"),
    "rec_loss": lambda d: single(d, "rec", "Reconstruction loss"),
    "disc_loss": _disc, "overview": _overview, "normalized": _normalized,
    "multi_axis": _multi_axis, "dashboard": _dashboard,
}


# -- drawing ----------------------------------------------------------------------------------------
# the eight figures in two halves of about equal drawing time (CPU-s per figure, 150k records:
# dashboard 0.36, overview 0.22, multi_axis / normalized / disc_loss 0.12-0.13, the others 0.08)
HALVES = (("dashboard", "overview"),
          ("total_loss", "kl_loss", "rec_loss", "disc_loss", "normalized", "multi_axis"))


def _draw(spec: FigureSpec, plt, smoothing: Smoothing | None, out_dir: Path) -> Path:
    fig = paint(spec, plt, smoothing or Smoothing())
    path = out_dir / f"{spec.name}.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, pil_kwargs={"compress_level": 3})
    plt.close(fig)
    return path


def _draw_some(table, summary: Summary, out_dir: Path, smoothing: Smoothing | None,
               names: Sequence[str]) -> list[str]:
    plt = pyplot()
    specs = describe(Curves(table), summary, smoothing, names)
    return [str(_draw(specs[name], plt, smoothing, out_dir)) for name in names]


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


def _halves(summary: Summary) -> tuple[tuple[str, ...], ...]:
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


def draw_figures(table, summary: Summary, out_dir: Path,
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
    paths = {}
    for name, spec in describe(Curves(table), summary, smoothing, names).items():
        paths[name] = _draw(spec, plt, smoothing, out_dir)
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
