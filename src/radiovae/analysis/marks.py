"""Where things happened, for the figures: the phase switch, resumes, and each finding's steps.

Computed once here, from the findings' own ``steps`` / ``span``; the PNG painter and the
interactive chart both draw :class:`~radiovae.analysis.schema.Marks` and re-derive nothing.
"""

from __future__ import annotations

from radiovae.analysis import findings
from radiovae.analysis.findings.base import Finding
from radiovae.analysis.schema import FindingMark, Marks, Phase, Resume, SegmentInfo

MAX_MARKS = 200


def finding_mark(f: Finding) -> FindingMark:
    """A finding's marks: its steps (a point event with only a span: the span's ends), its span,
    and the value a saturated weight is pinned at."""
    steps = sorted(set(int(s) for s in f.steps[:MAX_MARKS]))
    span = [int(f.span[0]), int(f.span[1])] if f.span is not None else None
    on_curve = findings.on_curve(f.id)      # the kind's own ON_CURVE
    if on_curve and not steps and span is not None:
        steps = list(span)
    pinned = f.evidence.get("value") if f.id == "weight_saturated" else None
    hline = float(pinned) if isinstance(pinned, (int, float)) and not isinstance(pinned, bool) \
        else None
    return FindingMark(f.id, f.severity, f.metric, steps, span, on_curve, hline)


def marks(findings: list[Finding], phases: list[Phase], resumes: list[Resume],
          segments: list[SegmentInfo]) -> Marks:
    out = Marks(findings=[finding_mark(f) for f in findings])
    gan = next((p for p in phases if p.name == "vae_gan"), None)
    if gan is not None:
        configured = gan.configured_start
        out.switch = configured if configured is not None else gan.start_step
        out.switch_label = "VAE → VAE-GAN" + (f" (disc_start {configured:,})"
                                              if configured is not None else "")
    steps = {r.step for r in resumes if r.step is not None}
    steps |= {s.first_step for s in segments[1:] if s.first_step is not None}
    out.resumes = sorted(steps)
    return out
