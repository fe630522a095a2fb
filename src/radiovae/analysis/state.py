"""Is the run finished, stopped, still running, or can that not be told? Decided once, here.

Every sentence that depends on it reads ``summary["state"]``: the coverage sentence, the time
left (only a running run has any), the confidence, stage-2 readiness and the verdict. The rules:

- ``finished``: the trainer's end marker says it completed (radiovae's ``[Train End] ... done``,
  RadioDiff's ``training complete``), or the last record is the last step the plan can log
  (RadioDiff logs steps ``0, log_freq, ...`` below ``train_num_steps``: 149,900 of 150,000).
- ``stopped``: an end marker that says why it ended early (``max_steps``, ``diverged``), or the
  records end before the plan with no end marker and nothing written for a long while: the files'
  last write (and the last record's own time) are older than :func:`stale_after`.
- ``running``: ``watch`` saw the records grow, or the files were written within that window.
- ``unknown``: a CSV export (its file time is when it was exported, it has no end marker), or no
  planned step count to compare with.
"""

from __future__ import annotations

import math
import os
import time as _time
from pathlib import Path
from typing import Any

from radiovae.fmt import duration, when
from radiovae.runlog.formats import is_live
from radiovae.runlog.run import Run

_MIN_STALE_S = 600.0       # never call a run stopped after less than 10 minutes of silence
_CLOCK_SLACK_S = 86_400.0  # a text log's stamps are local time of unknown zone: a day of slack


def stale_after(seconds_per_record: float | None) -> float:
    """Silence after which a log that is not growing counts as stopped: 20 record intervals, at
    least 10 minutes (a checkpoint or an evaluation pauses the log for a while)."""
    if seconds_per_record is None or not math.isfinite(seconds_per_record):
        return _MIN_STALE_S
    return max(_MIN_STALE_S, 20.0 * seconds_per_record)


def last_plan_step(planned: int | None, log_gap: int) -> int | None:
    """The last step a run of ``planned`` steps can log every ``log_gap`` steps (steps below the
    plan, RadioDiff's ``while step < train_num_steps``)."""
    if not planned:
        return None
    gap = max(int(log_gap or 1), 1)
    return ((int(planned) - 1) // gap) * gap


def last_write(run: Run) -> float | None:
    """The latest modification time of the run's record files (unix seconds), None if unknown."""
    times = []
    for seg in run.segments:
        p = Path(str(seg.source))
        try:
            if p.is_file():
                times.append(p.stat().st_mtime)
            elif p.is_dir():
                with os.scandir(p) as it:
                    for i, e in enumerate(it):
                        if i >= 2000:
                            break
                        if e.is_file(follow_symlinks=False):
                            times.append(e.stat(follow_symlinks=False).st_mtime)
        except OSError:
            continue
    return max(times) if times else None


def run_state(run: Run, planned: int | None, log_gap: int, time_facts: dict[str, Any], *,
              now: float | None = None, growing: bool | None = None) -> dict[str, Any]:
    """``{"state", "evidence", "basis", ...}`` for ``summary["state"]``.

    ``growing``: what ``watch`` saw (True: the records grew within :func:`stale_after`);
    None when the records were read once. ``now`` is for tests (default: the clock)."""
    now = _time.time() if now is None else now
    step = run.table["step"]
    last = int(step.iloc[-1]) if len(step) else None
    plan_last = last_plan_step(planned, log_gap)
    out: dict[str, Any] = {"last_step": last, "planned": planned, "last_plan_step": plan_last,
                           "last_write_unix": None, "silent_s": None}

    def said(state: str, basis: str, evidence: str) -> dict[str, Any]:
        return {"state": state, "basis": basis, "evidence": evidence, **out}

    end = run.end
    if end is not None:
        at = f" after step {end['step']:,}" if isinstance(end.get("step"), int) else ""
        why = str(end.get("stopped") or "done")
        if why == "done":
            marker = "`training complete`" if not at else "its end marker (done)"
            return said("finished", "end_marker", f"the trainer printed {marker}{at}.")
        words = {"max_steps": "it reached --max-steps, as asked",
                 "diverged": "the losses became non-finite"}.get(why, why)
        return said("stopped", "end_marker", f"the trainer ended the run{at}: {words}.")
    if last is None:
        return said("unknown", "no_records", "there are no records.")
    if plan_last is not None and last >= plan_last:
        return said("finished", "plan", f"the last record, step {last:,}, is the last one a "
                    f"{planned:,}-step plan logs at one record every {log_gap:,} steps.")
    spr = time_facts.get("steps_per_s")
    per_record = (log_gap / spr) if spr else None
    window = stale_after(per_record)
    if growing:
        return said("running", "watch", "the records grew while being watched.")
    formats = {s.format for s in run.segments}
    # a format written while training runs (its reader says): the file time is the last write
    if not any(is_live(f) for f in formats):
        return said("unknown", "export", f"a {', '.join(sorted(formats)) or 'table'} export has "
                    "no end marker, and its file time is when it was written out, not when "
                    f"training last logged: whether training went on after step {last:,} "
                    "cannot be told.")
    wrote = last_write(run)
    out["last_write_unix"] = wrote
    record_t = time_facts.get("end_unix")
    silent = None if wrote is None else now - wrote
    copied = False
    if record_t is not None and now - record_t > window + _CLOCK_SLACK_S:
        copied = wrote is not None and now - wrote <= window    # a copy: its records are old
        silent = max(silent or 0.0, now - record_t)
    out["silent_s"] = silent
    if silent is None:
        return said("unknown", "no_time", "neither the files nor the records say when they "
                    "were last written.")
    of_plan = (f" of {planned:,} ({100 * last / planned:.0f} % of the plan)" if planned else "")
    if silent > window:
        since = when(record_t) if record_t is not None else when(wrote)
        text = (f"the records end at step {last:,}{of_plan} with no end marker, and nothing has "
                f"been written since {since} ({duration(silent)} ago"
                + (f", by the records' own times; the file itself was modified {when(wrote)}"
                   if copied else "") + ").")
        if planned is None:
            return said("unknown", "no_plan", text[:-1] + ", but without a planned step count "
                        "finished and stopped cannot be told apart.")
        return said("stopped", "silence", text)
    return said("running", "recent_write", f"the files were last written {duration(silent)} "
                f"ago, within the {duration(window)} a running log may pause; the records reach "
                f"step {last:,}{of_plan}.")


def eta_applies(state: dict[str, Any]) -> bool:
    """Only a running run has time left."""
    return state.get("state") == "running"
