"""Where things happened, read from the summary: phase switch, resumes, and each finding's steps.

Figures draw these as labelled lines and markers; the text cites the same steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_RANGE_KEYS = (("first_step", "last_step"), ("start_step", "end_step"), ("from_step", "to_step"))
_RESUME_KEYS = ("step", "resume_step", "first_step")
POINT_EVENTS = ("non_finite", "spike", "divergence")   # findings drawn on the curve itself
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


@dataclass
class Marks:
    """Steps to mark on every figure."""

    switch: int | None = None            # first VAE-GAN step (configured disc_start if known)
    switch_label: str = ""
    resumes: list[int] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> Marks:
        marks = cls(findings=list(summary.get("findings") or []))
        for phase in summary.get("phases") or []:
            if phase.get("name") == "vae_gan":
                configured = _as_int(phase.get("configured_start"))
                observed = _as_int(phase.get("start_step"))
                marks.switch = configured if configured is not None else observed
                label = "VAE → VAE-GAN"
                if configured is not None:
                    label += f" (disc_start {configured:,})"
                marks.switch_label = label
        resumes: set[int] = set()
        for resume in summary.get("resumes") or []:
            step = _as_int(resume) if not isinstance(resume, dict) else next(
                (s for s in map(_as_int, (resume.get(k) for k in _RESUME_KEYS)) if s is not None),
                None)
            if step is not None:
                resumes.add(step)
        segments = summary.get("segments") or []
        for segment in segments[1:]:
            step = _as_int(segment.get("first_step"))
            if step is not None:
                resumes.add(step)
        marks.resumes = sorted(resumes)
        return marks

    def on(self, metric: str) -> list[tuple[dict[str, Any], list[int]]]:
        """Point events about ``metric`` (non-finite values, spikes, divergence) and their steps;
        run-wide findings (a frozen metric, a saturated weight) are named in the title instead."""
        out = []
        for f in self.findings:
            if f.get("metric") == metric and f.get("id") in POINT_EVENTS:
                steps = finding_steps(f)
                rng = finding_range(f)
                if rng and not steps:
                    steps = list(rng)
                if steps:
                    out.append((f, steps))
        return out

    def ids_on(self, metric: str) -> list[str]:
        return [f"{f.get('id')}" for f in self.findings
                if f.get("metric") == metric and f.get("severity") in ("warning", "critical")]
