"""The facts the report text reads (the summary alone) and the small formatting helpers every
section shares."""

from __future__ import annotations

from typing import Any

from radiovae.analysis.findings.base import Finding, config_float
from radiovae.analysis.schema import MetricStats, Phase, Summary
from radiovae.fmt import num, pct
from radiovae.report.document import code

SEVERITIES = ("critical", "warning", "info")


_SEV_RANK = {s: i for i, s in enumerate(SEVERITIES)}


STATUS_WORDS = {"ok": "OK: no findings", "info": "info", "warning": "WARNING",
                "critical": "CRITICAL"}


def evidence_text(evidence: Any, limit: int = 8, depth: int = 0) -> str:
    """A finding's evidence as one line: ``key = value; ...``; long lists are cut with a count,
    nested records (sample rows) are counted, not spelled out: summary.json has them all."""
    if evidence is None or evidence == {} or evidence == []:
        return "—"
    if isinstance(evidence, dict):
        if depth > 0:
            return "{…}"
        return "; ".join(f"{k} = {evidence_text(v, limit, depth + 1)}" for k, v in evidence.items())
    if isinstance(evidence, (list, tuple)):
        if any(isinstance(v, (dict, list, tuple)) for v in evidence):
            return f"{len(evidence)} records (in summary.json)"
        shown = ", ".join(evidence_text(v, limit, depth + 1) for v in evidence[:limit])
        return f"[{shown}{f', … ({len(evidence)} in all)' if len(evidence) > limit else ''}]"
    if isinstance(evidence, bool) or not isinstance(evidence, (int, float)):
        return str(evidence)
    if isinstance(evidence, int) and abs(evidence) >= 1000:
        return f"{evidence:,}"
    return num(evidence)


class Facts:
    """The summary, with lookups by role and phase; nothing here computes a new number."""

    def __init__(self, summary: Summary):
        self.s = summary
        self.metrics: dict[str, MetricStats] = summary.metrics
        self.roles: dict[str, str] = {r: n for r, n in summary.roles.items() if n in self.metrics}
        self.findings: list[Finding] = sorted(summary.findings,
                                              key=lambda f: _SEV_RANK.get(f.severity, 3))
        self.config = summary.config
        self.steps = summary.steps
        self.phases = summary.phases
        self.verdict = summary.verdict or "unknown"
        self.loss = summary.loss
        self.kind = summary.kind or "vae"

    def name(self, role: str) -> str | None:
        return self.roles.get(role)

    def m(self, role: str) -> MetricStats | None:
        name = self.roles.get(role)
        return self.metrics.get(name) if name else None

    def has(self, role: str) -> bool:
        return role in self.roles

    def about(self, role_or_name: str, *ids: str) -> list[Finding]:
        name = self.roles.get(role_or_name, role_or_name)
        return [f for f in self.findings if f.metric == name and (not ids or f.id in ids)]

    def with_id(self, *ids: str) -> list[Finding]:
        return [f for f in self.findings if f.id in ids]

    def cfg(self, key: str) -> float | None:
        return config_float(self.config, key)

    @property
    def log_gap(self) -> int:
        return int(self.s.log_gap or 1)

    def phase(self, name: str) -> Phase | None:
        return self.s.phase(name)

    def phase_mean(self, name: str, role: str) -> float | None:
        col, phase = self.roles.get(role), self.phase(name)
        return phase.means.get(col) if col and phase is not None else None

    @property
    def switch(self) -> int | None:
        gan = self.phase("vae_gan")
        return gan.start_step if gan is not None else None

    @property
    def configured_switch(self) -> int | None:
        gan = self.phase("vae_gan")
        v = (gan.configured_start if gan is not None else None) or self.cfg("disc_start")
        return int(v) if v is not None else None


def label(f: Finding) -> str:
    where = f" ({code(f.metric)})" if f.metric else ""
    return f"**{f.severity} · {f.id}**{where}"


def sentence(text: Any) -> str:
    """A message as a sentence: stripped, ending in a full stop."""
    text = str(text or "").strip()
    if not text:
        return text
    return text if text[-1] in ".!?" else text + "."


def reason(f: Facts) -> str:
    """The summary's verdict reason as a sentence (capitalized: it is ours, not a metric name)."""
    text = sentence(f.s.verdict_reason)
    return text[:1].upper() + text[1:]


def finding_line(f: Finding) -> str:
    return f"{label(f)}: {sentence(f.message)}"


def steps_text(f: Finding, limit: int = 6) -> str:
    """The steps a finding concerns: its span as a range, else the single steps it names."""
    if f.span is not None and not f.steps:
        return f"{int(f.span[0]):,}–{int(f.span[1]):,}"
    steps = sorted(set(f.steps))
    if not steps:
        return ""
    shown = ", ".join(f"{s:,}" for s in steps[:limit])
    return shown + (f" … ({len(steps)} steps)" if len(steps) > limit else "")


def steps_range(f: Facts) -> str:
    first, last, planned = f.steps.first, f.steps.last, f.steps.planned
    if first is None:
        return "—"
    text = f"{first:,}–{last:,}"
    if planned:
        text += f" of {planned:,}"
    return text


def change_text(m: MetricStats) -> str:
    """A metric's change: a percentage where one means something, else the absolute change."""
    if m.change_pct is not None:
        return pct(m.change_pct)
    if m.change_abs is None:
        return "—"
    text = ("+" if m.change_abs > 0 else "") + num(m.change_abs)
    return text + (" (sign change)" if m.sign_change else " (abs.)")
