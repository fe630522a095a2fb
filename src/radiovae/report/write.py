"""Write a report directory: report.md, report.html (self-contained), summary.json, figures/*.png.

Every file goes through radiovae.io's atomic writes, so a crash or Ctrl-C mid-report leaves the
previous complete report in place.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from radiovae.analysis import jsonable
from radiovae.io import atomic_path, atomic_write_bytes
from radiovae.progress import make_progress
from radiovae.report.content import build_document
from radiovae.report.figures import FIGURES, Drawing, caption_smoothing, draw_figures
from radiovae.report.render import file_reader, to_html, to_markdown
from radiovae.report.series import Smoothing
from radiovae.runlog.run import Run

FIGURE_DIR = "figures"
FIGURE_NOTES = "figures.json"   # beside the PNGs: what they show (kept while watch skips drawing)
CHARTS = "charts.json"          # the HTML's interactive charts, drawn from the same records


def run_dir_of(summary: dict[str, Any]) -> Path | None:
    """The radiovae run dir the records came from (the folder of metrics.jsonl), if any."""
    for seg in summary.get("segments") or []:
        src = Path(str(seg.get("source", "")))
        if src.is_dir():
            return src
        if src.name == "metrics.jsonl" or (src.parent / "evaluation.json").is_file():
            return src.parent
    return None


def relpath(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def write_summary(summary: dict[str, Any], out: Path, fsync: bool = True) -> Path:
    return atomic_write_bytes(out / "summary.json", (json.dumps(
        jsonable(summary), indent=2, allow_nan=False) + "\n").encode("utf-8"), fsync=fsync)


def _copy_eval_grid(summary: dict[str, Any], out: Path) -> Path | None:
    """Copy the evaluation's sample grid (named relative to the run dir) beside the figures."""
    ev = summary.get("evaluation") or {}
    grid = ev.get("grid") if isinstance(ev, dict) else None
    run_dir = run_dir_of(summary)
    if not grid or run_dir is None:
        return None
    src = (run_dir / str(grid)).resolve()
    if not src.is_file() or src.suffix.lower() != ".png":
        return None
    dst = out / FIGURE_DIR / "eval_grid.png"
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    return dst


def write_report(run: Run, summary: dict[str, Any], out: str | Path, progress: bool = True,
                 figures: bool = True, figures_step: int | None = None,
                 fsync: bool = True, smoothing: Smoothing | None = None,
                 drawing: Drawing | None = None) -> dict[str, Path]:
    """Write the whole report for ``run`` into ``out``; return {relative name: path}.

    ``figures=False`` keeps the PNGs already in ``out/figures`` (``watch`` redraws them less often
    than it rewrites the text); ``figures_step`` is the last step those PNGs show.
    ``fsync=False`` skips flushing the text files to disk (each is still replaced atomically):
    for ``watch``, whose next refresh rewrites them within seconds anyway.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {"summary.json": write_summary(summary, out, fsync=fsync)}
    fig_dir = out / FIGURE_DIR
    smoothing = smoothing or Smoothing()
    if figures:
        with make_progress(transient=True, disable=not progress) as bar:
            task = bar.add_task("drawing figures", total=len(FIGURES))
            draw_figures(run.table, summary, fig_dir, smoothing=smoothing, drawing=drawing,
                         on_done=lambda name: bar.update(task, advance=1,
                                                         description=f"drawing {name}"))
        figures_step = None
        notes = {"smoothing": smoothing.describe(len(run.table))}
        charts = chart_json(run.table, summary, smoothing)
        atomic_write_bytes(fig_dir / CHARTS, charts.encode(), fsync=fsync)
        atomic_write_bytes(fig_dir / FIGURE_NOTES, json.dumps(notes).encode(), fsync=fsync)
    else:
        notes = _read_notes(fig_dir)
        charts = _read_text(fig_dir / CHARTS)
    grid = _copy_eval_grid(summary, out)
    fig_rel = {}
    for name, _title in FIGURES:
        path = fig_dir / f"{name}.png"
        if path.is_file():
            fig_rel[name] = relpath(path, out)
            written[f"{FIGURE_DIR}/{name}.png"] = path
    if grid is not None:
        fig_rel["eval_grid"] = relpath(grid, out)
        written[f"{FIGURE_DIR}/eval_grid.png"] = grid
    doc = build_document(summary, fig_rel, figures_step=figures_step)
    if notes.get("smoothing"):
        caption_smoothing(doc, str(notes["smoothing"]))
    written["report.md"] = atomic_write_bytes(out / "report.md",
                                              to_markdown(doc).encode("utf-8"), fsync=fsync)
    written["report.html"] = atomic_write_bytes(
        out / "report.html", to_html(doc, file_reader(out), charts).encode("utf-8"), fsync=fsync)
    return written


def chart_json(table, summary: dict[str, Any], smoothing: Smoothing) -> str:
    """The interactive charts of the eight figures, as the JSON text the HTML embeds."""
    from radiovae.report.charts import build_charts, pack
    from radiovae.report.marks import Marks
    from radiovae.report.series import Curves

    figures = build_charts(Curves(table), Marks.from_summary(summary), smoothing)
    return pack(figures, smoothing, records=len(table))


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _read_notes(fig_dir: Path) -> dict[str, Any]:
    try:
        notes = json.loads((fig_dir / FIGURE_NOTES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return notes if isinstance(notes, dict) else {}


def make_report(paths: str | Path | Sequence[str | Path], out: str | Path,
                total_steps: int | None = None, disc_start: int | None = None,
                progress: bool = True, smoothing: Smoothing | None = None) -> dict[str, Any]:
    """Read the records at ``paths`` (one run; several files are resumes), analyse, write the
    report into ``out``; return the summary."""
    from radiovae.analysis import analyze
    from radiovae.report.figures import start_drawing
    from radiovae.runlog import load_run

    # the figures' workers import matplotlib on the other core while this one reads
    drawing = start_drawing()
    try:
        run = load_run(paths)
        summary = analyze(run, total_steps=total_steps, disc_start=disc_start)
        write_report(run, summary, out, progress=progress, smoothing=smoothing, drawing=drawing)
    finally:
        if drawing is not None:
            drawing.close()
    return summary
