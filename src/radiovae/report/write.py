"""Write a report directory: report.md, report.html (self-contained), summary.json, figures/*.png.

The whole report is written into a temporary folder beside ``--out`` and then put in its place
in one step (radiovae.io.atomic_dir), so a reader of ``--out`` sees one complete report or the
previous one, never parts of two; a crash, Ctrl-C or a full disk leaves the previous report as it
was and no half-written files. ``--out`` must be a folder that is new, empty, or one radiovae
wrote (its marker file says so): any other is refused rather than replaced, even one holding
only files named like a report's (a user's ``report.md``, a file named ``figures``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from radiovae.analysis.schema import Summary
from radiovae.errors import UserError
from radiovae.io import atomic_dir, atomic_write_bytes
from radiovae.progress import make_progress
from radiovae.report.charts import chart_json
from radiovae.report.content import build_document
from radiovae.report.figures import (
    ALL_FIGURES,
    Drawing,
    caption_smoothing,
    draw_figures,
    figure_list,
)
from radiovae.report.render import file_reader, to_html, to_markdown
from radiovae.report.series import Smoothing
from radiovae.runlog.run import Run

FIGURE_DIR = "figures"
FIGURE_NOTES = "figures.json"   # beside the PNGs: what they show (kept while watch skips drawing)
CHARTS = "charts.json"          # the HTML's interactive charts, drawn from the same records


def relpath(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def write_summary(summary: Summary, out: Path, fsync: bool = True) -> Path:
    """summary.json: the typed summary's JSON (radiovae.analysis.schema.load_summary reads it)."""
    return atomic_write_bytes(out / "summary.json", (json.dumps(
        summary.to_json(), indent=2, allow_nan=False) + "\n").encode("utf-8"), fsync=fsync)


MARKER = ".radiovae-report"       # in every report / comparison folder: it may be replaced whole
# what a report or a comparison writes: with the marker, anything else is a user's and is kept
WRITTEN_NAMES = {"report.md", "report.html", "summary.json", "comparison.json", FIGURE_DIR, MARKER}


def inside(path: Path, root: Path) -> Path | None:
    """``path`` resolved (symlinks followed) if it lies inside ``root``, else None."""
    try:
        real, base = path.resolve(), root.resolve()
    except (OSError, RuntimeError):
        return None
    return real if real == base or base in real.parents else None


def _copy_eval_grid(summary: Summary, out: Path) -> Path | None:
    """Copy the evaluation's sample grid (named relative to the run dir) beside the figures.

    Only a PNG inside the run dir is taken: evaluation.json is input, and ``../../x.png``, an
    absolute path or a symlink out of the run dir must not put a foreign file into the report."""
    grid = summary.evaluation.grid if summary.evaluation is not None else None
    run_dir = Path(summary.run_dir) if summary.run_dir is not None else None
    if not grid or not isinstance(grid, str) or run_dir is None or "\0" in grid:
        return None
    src = inside(run_dir / grid, run_dir)
    if src is None or not src.is_file() or src.suffix.lower() != ".png":
        return None
    dst = out / FIGURE_DIR / "eval_grid.png"
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def check_out(out: Path) -> None:
    """``--out`` must be a folder that is new, empty or one radiovae wrote: it holds
    :data:`MARKER` (UserError if not). ``report``, ``watch`` and ``compare`` share this rule."""
    if out.is_symlink() and not out.exists():
        raise UserError(f"--out {out}: a broken symbolic link")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"--out {out}: {parent} is not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise UserError(f"--out {out}: cannot write into {parent} (permission denied)")
            break
    if out.is_dir():
        try:
            names = set(os.listdir(out))
        except OSError as e:
            raise UserError(f"--out {out}: cannot read it ({e.strerror})") from None
        foreign = sorted(names if MARKER not in names else names - WRITTEN_NAMES)
        foreign += [f"{FIGURE_DIR}/{n}" for n in _foreign_figures(out / FIGURE_DIR)]
        if names and foreign:
            listed = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            why = "" if MARKER in names else f"; no {MARKER} marker"
            raise UserError(f"--out {out}: holds files radiovae did not write ({listed}{why}); "
                            f"give a new or empty folder")


def _foreign_figures(fig_dir: Path) -> list[str]:
    """What in a report's ``figures`` entry radiovae would not have written there: the entry
    itself when it is no plain folder, else whatever in it is not a PNG / JSON file."""
    if not fig_dir.exists() and not fig_dir.is_symlink():
        return []
    if fig_dir.is_symlink() or not fig_dir.is_dir():
        return ["(not a folder)"]
    try:
        return sorted(p.name for p in fig_dir.iterdir()
                      if p.is_symlink() or not p.is_file() or p.suffix not in (".png", ".json"))
    except OSError:
        return ["(unreadable)"]


def write_marker(folder: Path, what: str) -> None:
    """The marker that lets a later run replace ``folder`` whole (see :func:`check_out`)."""
    atomic_write_bytes(folder / MARKER, f"radiovae {what} folder: replaced whole on each "
                       "write\n".encode(), fsync=False)


def write_report(run: Run, summary: Summary, out: str | Path, progress: bool = True,
                 figures: bool = True, figures_step: int | None = None,
                 fsync: bool = True, smoothing: Smoothing | None = None,
                 drawing: Drawing | None = None) -> dict[str, Path]:
    """Write the whole report for ``run`` into ``out``; return {relative name: path}.

    ``figures=False`` keeps the figures of the report already in ``out`` (``watch`` redraws them
    less often than it rewrites the text); ``figures_step`` is the last step those PNGs show.
    ``fsync=False`` skips flushing the text files to disk (the folder is still replaced whole):
    for ``watch``, whose next refresh rewrites them within seconds anyway.
    Bad ``--out``, a full disk or any write error: UserError, the previous report unchanged.
    """
    out = Path(out)
    check_out(out)
    try:
        with atomic_dir(out) as tmp:
            rel = _write_into(tmp, run, summary, out, progress, figures, figures_step, fsync,
                              smoothing or Smoothing(), drawing)
    except OSError as e:
        why = e.strerror or (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"--out {out}: cannot write the report ({why}); nothing was "
                        f"changed there") from None
    return {name: out / name for name in rel}


def _write_into(tmp: Path, run: Run, summary: Summary, out: Path, progress: bool,
                figures: bool, figures_step: int | None, fsync: bool,
                smoothing: Smoothing, drawing: Drawing | None) -> list[str]:
    write_marker(tmp, "report")
    written = ["summary.json"]
    write_summary(summary, tmp, fsync=fsync)
    fig_dir = tmp / FIGURE_DIR
    if figures:
        with make_progress(transient=True, disable=not progress) as bar:
            task = bar.add_task("drawing figures", total=len(figure_list(summary)))
            draw_figures(run.table, summary, fig_dir, smoothing=smoothing, drawing=drawing,
                         on_done=lambda name: bar.update(task, advance=1,
                                                         description=f"drawing {name}"))
        figures_step = None
        notes = {"smoothing": smoothing.describe(len(run.table))}
        charts = chart_json(run.table, summary, smoothing)
        atomic_write_bytes(fig_dir / CHARTS, charts.encode(), fsync=fsync)
        atomic_write_bytes(fig_dir / FIGURE_NOTES, json.dumps(notes).encode(), fsync=fsync)
    else:
        _keep_figures(out / FIGURE_DIR, fig_dir)
        notes = _read_notes(fig_dir)
        charts = _read_text(fig_dir / CHARTS)
    grid = _copy_eval_grid(summary, tmp)
    fig_rel = {}
    for name, _title in ALL_FIGURES:
        path = fig_dir / f"{name}.png"
        if path.is_file():
            fig_rel[name] = relpath(path, tmp)
            written.append(f"{FIGURE_DIR}/{name}.png")
    if grid is not None:
        fig_rel["eval_grid"] = relpath(grid, tmp)
        written.append(f"{FIGURE_DIR}/eval_grid.png")
    doc = build_document(summary, fig_rel, figures_step=figures_step)
    if notes.get("smoothing"):
        caption_smoothing(doc, str(notes["smoothing"]))
    atomic_write_bytes(tmp / "report.md", to_markdown(doc).encode("utf-8"), fsync=fsync)
    atomic_write_bytes(tmp / "report.html",
                       to_html(doc, file_reader(tmp), charts).encode("utf-8"), fsync=fsync)
    return [*written, "report.md", "report.html"]


def _keep_figures(src: Path, dst: Path) -> None:
    """The previous report's figures (PNGs, charts, notes) into the new folder: hard links, not
    copies, where the file system allows."""
    if not src.is_dir():
        return
    dst.mkdir(parents=True, exist_ok=True)
    names = [f"{name}.png" for name, _title in ALL_FIGURES] + [CHARTS, FIGURE_NOTES]
    for name in names:
        f = src / name
        if not f.is_file():
            continue
        try:
            os.link(f, dst / name)
        except OSError:
            shutil.copyfile(f, dst / name)


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
                progress: bool = True, smoothing: Smoothing | None = None) -> Summary:
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
    except BaseException:
        if drawing is not None:
            drawing.kill()
        raise
    finally:
        if drawing is not None:
            drawing.close()
    return summary
