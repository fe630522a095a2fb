"""A finding's steps and range for the report's text, from a finding written as a dict.

Transitional: the figures draw ``summary.marks`` (analysis/marks.py), which owns the marks; once
the text side reads ``Finding.steps`` / ``Finding.span`` this module goes.
"""

from __future__ import annotations

from typing import Any

_RANGE_KEYS = (("first_step", "last_step"), ("start_step", "end_step"), ("from_step", "to_step"))
MAX_MARKS = 200


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return int(f) if f == f and abs(f) != float("inf") else None


def finding_range(finding: dict[str, Any]) -> tuple[int, int] | None:
    """(first, last): the finding's ``span``; for a finding written by hand without one, the
    evidence's ``first_step`` / ``last_step``."""
    if "span" in finding:
        span = finding.get("span")
        if isinstance(span, (list, tuple)) and len(span) == 2:
            lo, hi = _as_int(span[0]), _as_int(span[1])
            if lo is not None and hi is not None:
                return lo, hi
        return None
    ev = finding.get("evidence")
    if isinstance(ev, dict):
        for lo_key, hi_key in _RANGE_KEYS:
            lo, hi = _as_int(ev.get(lo_key)), _as_int(ev.get(hi_key))
            if lo is not None and hi is not None:
                return lo, hi
    return None


def finding_steps(finding: dict[str, Any]) -> list[int]:
    """The single steps a finding names: its ``steps``; for a finding written by hand without
    them, every ``step`` / ``*_step`` / ``steps`` its evidence names; sorted."""
    if "steps" in finding:
        return sorted({s for s in map(_as_int, (finding.get("steps") or [])[:MAX_MARKS])
                       if s is not None})
    evidence = finding.get("evidence")
    found: set[int] = set()
    if isinstance(evidence, dict):
        ends = {k for pair in _RANGE_KEYS for k in pair} if finding_range(finding) else set()
        for key, value in evidence.items():
            if key in ends:
                continue
            if key == "step" or key.endswith("_step"):
                step = _as_int(value)
                if step is not None:
                    found.add(step)
            elif isinstance(value, (list, tuple)):
                if key == "steps" or key.endswith("_steps"):
                    found.update(s for s in map(_as_int, value[:MAX_MARKS]) if s is not None)
                else:   # records such as spikes=[{"step": ..., "value": ...}, ...]
                    found.update(s for s in (_as_int(v.get("step")) for v in value[:MAX_MARKS]
                                             if isinstance(v, dict)) if s is not None)
    elif isinstance(evidence, list):
        found.update(s for s in map(_as_int, evidence[:MAX_MARKS]) if s is not None)
    return sorted(found)
