"""Watch a training run: follow its growing records, keep the report and a terminal panel fresh.

Each refresh reads only the bytes appended since the last one (``RunFollower``), re-analyses and
rewrites the text of the report (cheap). The figures are the expensive part, so they are redrawn
only when ``figure_period`` has passed — at least 10× the time the last drawing took, so drawing
never takes more than ~10 % of the time — when a new warning or critical finding appears, and at
the end; the report says which step its figures show. Figures are embedded in the HTML as data URIs
that are re-encoded only when a PNG changed, and text-only refreshes skip fsync (each file is still
replaced atomically; the next refresh rewrites it within seconds).

A path that does not exist is bad input (UserError). A directory, or an empty file, that holds no
records yet is a run that has not logged its first step: the watcher waits for it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radiovae.analysis.findings.base import Finding
from radiovae.analysis.schema import Summary
from radiovae.analysis.state import stale_after
from radiovae.errors import UserError
from radiovae.report.write import write_report


def finding_key(f: Finding) -> tuple:
    return (f.id, f.metric, f.severity)


def training_done(summary: Summary, run: Any = None) -> bool:
    """The run is over: its records end with the trainer's end marker, or the last logged step
    is the last one the run will log.

    RadioDiff logs step s (0-based, s < planned) when s % log_freq == 0, so its last logged step
    is the largest multiple of log_freq below the planned steps; radiovae's trainer also logs the
    run's last step (planned - 1) and then writes its end marker, which is what a radiovae run
    dir waits for (the multiple-of-log_freq rule would end one interval early there)."""
    if run is not None and getattr(run, "end", None) is not None:
        return True
    last, planned = summary.steps.last, summary.steps.planned
    if last is None or not planned:
        return False
    if last >= planned - 1:
        return True
    if any(str(s.source).endswith("metrics.jsonl") for s in summary.segments):
        return False                       # radiovae's own records: its end marker or N - 1
    try:
        gap = int(summary.config.get("log_freq") or 0)
    except (TypeError, ValueError, OverflowError):
        gap = 0
    return gap > 0 and last >= (planned - 1) // gap * gap


def _not_started(path: Path) -> bool:
    return path.is_dir() or (path.is_file() and path.stat().st_size == 0)


@dataclass
class Update:
    """What one refresh did."""

    summary: Summary | None
    new_findings: list[Finding] = field(default_factory=list)
    new_records: int = 0
    changed: bool = False           # anything new since the last refresh
    drew_figures: bool = False
    seconds: float = 0.0
    waiting: str | None = None      # why there is nothing to report yet


class Watcher:
    """Keeps ``out`` up to date with the records at ``paths`` (call :meth:`refresh` repeatedly)."""

    def __init__(self, paths: str | Path | Sequence[str | Path], out: str | Path,
                 total_steps: int | None = None, disc_start: int | None = None,
                 figure_period: float = 60.0):
        from radiovae.report.write import check_out
        from radiovae.runlog.chunks import check_regular

        self.paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
        for p in self.paths:
            if not p.exists():
                raise UserError(f"{p}: no such file or directory")
            check_regular(p)                 # a FIFO or a device: refused, never waited on
        self.out = Path(out)
        check_out(self.out)
        self.total_steps, self.disc_start = total_steps, disc_start
        self.figure_period = figure_period
        self.follower = None
        self.summary: Summary | None = None
        self.seen: set[tuple] = set()
        self.records = 0
        self.last_step: int | None = None
        self.figures_step: int | None = None
        self.figures_at = float("-inf")
        self.figure_cost = 0.0
        self.refreshes = 0
        self.run = None
        self.grew_at: float | None = None

    def _poll(self):
        from radiovae.runlog.follow import RunFollower

        if self.follower is None:
            self.follower = RunFollower(self.paths)
        return self.follower.poll()

    def refresh(self, force_figures: bool = False) -> Update:
        """Read what was appended, and rewrite the report if anything changed."""
        from radiovae.analysis import analyze

        start = time.perf_counter()
        self.refreshes += 1
        try:
            run = self._poll()
        except UserError as exc:
            # a run dir (or a just-created, still empty log) that training has not written
            # records into yet: wait for it; anything else is bad input
            if self.summary is None and all(_not_started(p) for p in self.paths):
                self.follower = None
                return Update(None, waiting=f"waiting for training records in "
                                            f"{', '.join(map(str, self.paths))} ({exc})")
            raise
        self.run = run
        last = int(run.table["step"].iloc[-1]) if len(run.table) else None
        if (len(run.table), last) == (self.records, self.last_step) and not force_figures:
            return Update(self.summary, seconds=time.perf_counter() - start)
        new_records = len(run.table) - self.records
        if self.summary is not None and new_records > 0:
            self.grew_at = time.monotonic()      # seen growing while watched: running
        self.records, self.last_step = len(run.table), last
        growing = (self.grew_at is not None
                   and time.monotonic() - self.grew_at < stale_after(None)) or None
        summary = analyze(run, total_steps=self.total_steps, disc_start=self.disc_start,
                          growing=growing)
        new = [f for f in summary.findings if finding_key(f) not in self.seen]
        self.seen.update(finding_key(f) for f in new)
        now = time.monotonic()
        period = max(self.figure_period, 10 * self.figure_cost)
        draw = (force_figures or self.figures_step is None or now - self.figures_at >= period
                or any(f.severity in ("warning", "critical") for f in new)
                or training_done(summary, run))
        t0 = time.perf_counter()
        write_report(run, summary, self.out, progress=False, figures=draw,
                     figures_step=None if draw else self.figures_step, fsync=draw)
        if draw:
            self.figure_cost = time.perf_counter() - t0
            self.figures_at, self.figures_step = now, last
        self.summary = summary
        return Update(summary, new, new_records, True, draw, time.perf_counter() - start)


# -- the terminal panel ----------------------------------------------------------------------------
_KEY_METRICS = ("total", "kl", "rec", "disc_loss", "g_loss", "d_weight", "lr")
_VERDICT_STYLE = {"healthy": "bold green", "attention": "bold yellow", "failing": "bold red",
                  "too_short": "bold cyan"}


def panel(watcher: Watcher, update: Update, recent: list[Finding]):
    """A rich renderable: progress to the planned steps, latest values, new findings, verdict."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    from radiovae.analysis.stats import trend_text
    from radiovae.fmt import duration, num

    title = f"radiovae watch → {watcher.out / 'report.html'}"
    s = update.summary
    if s is None:
        return Panel(Text(update.waiting or "waiting for records …", style="yellow"), title=title)
    last, planned = s.steps.last or 0, s.steps.planned
    rows = []
    if planned:
        eta = f"  ETA {duration(s.time.eta_s)}" if s.time.eta_s else ""
        line = Table.grid(padding=(0, 2))
        line.add_row(ProgressBar(total=planned, completed=min(last, planned), width=50),
                     Text(f"step {last:,} / {planned:,} ({100 * last / planned:.1f} %){eta}"))
        rows.append(line)
    else:
        rows.append(Text(f"step {last:,} (planned steps unknown)"))
    metrics = s.metrics
    roles = {r: n for r, n in s.roles.items() if n in metrics}
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    for col in ("metric", "latest", "min … max", "trend", "status"):
        table.add_column(col, justify="right" if col == "latest" else "left")
    for role in _KEY_METRICS:
        if role in roles:
            m = metrics[roles[role]]
            style = {"critical": "red", "warning": "yellow"}.get(m.status, "")
            table.add_row(Text(roles[role]), num(m.last), f"{num(m.min)} … {num(m.max)}",
                          trend_text(m), Text(m.status, style=style))
    rows.append(table)
    verdict = s.verdict or "unknown"
    rows.append(Text.assemble(("verdict: ", "bold"), (verdict, _VERDICT_STYLE.get(verdict, "")),
                              f" — {s.verdict_reason or ''}"))
    rows.append(Text.assemble(("state: ", "bold"), s.state.state, f" — {s.state.evidence}"))
    if recent:
        lines = Text("new findings:\n", style="bold")
        for f in recent[-6:]:
            style = {"critical": "red", "warning": "yellow"}.get(f.severity, "dim")
            lines.append(f"  {f.severity} · {f.id} ({f.metric or 'run'}): {f.message}\n",
                         style=style)
        rows.append(lines)
    fig = (f"figures at step {watcher.figures_step:,}" if watcher.figures_step is not None
           else "figures not drawn yet")
    rows.append(Text(f"refresh {watcher.refreshes} · {time.strftime('%H:%M:%S')} · "
                     f"{update.seconds:.2f} s · {fig} · Ctrl-C stops", style="dim"))
    return Panel(Group(*rows), title=title, border_style=_VERDICT_STYLE.get(verdict, "white"))


class _Lines:
    """Stand-in for rich Live when stderr is not a terminal: one line per refresh."""

    def __init__(self, console):
        self.console = console

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, _renderable, refresh: bool = True) -> None:
        u = self.last
        if u.summary is not None and not u.changed:
            return                          # nothing new: no line
        if u.summary is None:
            self.console.print(u.waiting or "waiting for records")
            return
        steps = u.summary.steps
        self.console.print(
            f"step {steps.last or 0:,}" + (f"/{steps.planned:,}" if steps.planned else "")
            + f" · {u.new_records:+,} records · verdict {u.summary.verdict}"
            + "".join(f" · new {f.severity}: {f.id}" for f in u.new_findings)
            + f" · {u.seconds:.2f} s", highlight=False)


def watch_loop(watcher: Watcher, interval: float, max_refreshes: int | None = None,
               live: bool = True) -> Summary | None:
    """Refresh every ``interval`` seconds until Ctrl-C, the end of training, or ``max_refreshes``.

    Returns the last summary. Ctrl-C stops between or during refreshes; every report file is
    written atomically, so the last complete report stays in place.
    """
    from rich.live import Live

    from radiovae.progress import console

    recent: list[Finding] = []
    count = 0
    with Live(console=console, auto_refresh=False, transient=False, redirect_stdout=False,
              redirect_stderr=False) if live else _Lines(console) as view:
        try:
            while True:
                update = watcher.refresh()
                count += 1
                if update.changed:
                    recent = update.new_findings or recent
                done = update.summary is not None and training_done(update.summary, watcher.run)
                if done:
                    # the last lines may still be on their way (RadioDiff writes a step's
                    # discriminator line after its generator line; no end marker says so)
                    if watcher.run is None or watcher.run.end is None:
                        time.sleep(min(interval, 1.0))
                    final = watcher.refresh(force_figures=True)
                    update = Update(final.summary, update.new_findings + final.new_findings,
                                    update.new_records + final.new_records, True, True,
                                    update.seconds + final.seconds)
                view.last = update
                view.update(panel(watcher, update, recent), refresh=True)
                if done or (max_refreshes is not None and count >= max_refreshes):
                    break
                time.sleep(max(0.0, interval - update.seconds))
        except KeyboardInterrupt:
            console.print("[yellow]stopped (Ctrl-C)[/]; the last complete report is kept")
    return watcher.summary
