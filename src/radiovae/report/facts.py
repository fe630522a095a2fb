"""The facts the report text reads (the summary alone) and the small formatting helpers every
section shares."""

from __future__ import annotations

from typing import Any

from radiovae.analysis.findings.base import config_float
from radiovae.fmt import num, pct
from radiovae.report.document import code
from radiovae.report.marks import finding_steps

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

    def __init__(self, summary: dict[str, Any]):
        self.s = summary
        self.metrics: dict[str, dict] = summary.get("metrics") or {}
        self.roles: dict[str, str] = {r: n for r, n in (summary.get("roles") or {}).items()
                                      if n in self.metrics}
        self.findings = sorted(summary.get("findings") or [],
                               key=lambda f: _SEV_RANK.get(f.get("severity"), 3))
        self.config = summary.get("config") or {}
        self.steps = summary.get("steps") or {}
        self.phases = summary.get("phases") or []
        self.verdict = summary.get("verdict") or "unknown"
        self.loss = summary.get("loss") or {}
        self.kind = summary.get("kind") or "vae"

    def name(self, role: str) -> str | None:
        return self.roles.get(role)

    def m(self, role: str) -> dict:
        name = self.roles.get(role)
        return self.metrics.get(name, {}) if name else {}

    def has(self, role: str) -> bool:
        return role in self.roles

    def about(self, role_or_name: str, *ids: str) -> list[dict]:
        name = self.roles.get(role_or_name, role_or_name)
        return [f for f in self.findings
                if f.get("metric") == name and (not ids or f.get("id") in ids)]

    def with_id(self, *ids: str) -> list[dict]:
        return [f for f in self.findings if f.get("id") in ids]

    def cfg(self, key: str) -> float | None:
        return config_float(self.config, key)

    @property
    def log_gap(self) -> int:
        return int(self.s.get("log_gap") or 1)

    def phase(self, name: str) -> dict[str, Any]:
        return next((p for p in self.phases if p.get("name") == name), {})

    def phase_mean(self, name: str, role: str) -> float | None:
        col = self.roles.get(role)
        return (self.phase(name).get("means") or {}).get(col) if col else None

    @property
    def switch(self) -> int | None:
        return self.phase("vae_gan").get("start_step")

    @property
    def configured_switch(self) -> int | None:
        v = self.phase("vae_gan").get("configured_start") or self.cfg("disc_start")
        return int(v) if v is not None else None


def label(f: dict) -> str:
    metric = f.get("metric")
    where = f" ({code(metric)})" if metric else ""
    return f"**{f.get('severity')} · {f.get('id')}**{where}"


def sentence(text: Any) -> str:
    """A message as a sentence: stripped, ending in a full stop."""
    text = str(text or "").strip()
    if not text:
        return text
    return text if text[-1] in ".!?" else text + "."


def reason(f: Facts) -> str:
    """The summary's verdict reason as a sentence (capitalized: it is ours, not a metric name)."""
    text = sentence(f.s.get("verdict_reason"))
    return text[:1].upper() + text[1:]


def finding_line(f: dict) -> str:
    return f"{label(f)}: {sentence(f.get('message'))}"


def where(f: dict) -> str:
    """' at step 70,000' / ' at steps a, b' / ' from step 121,300' (divergence) / ''."""
    steps = finding_steps(f)
    if not steps:
        return ""
    if f.get("id") == "divergence":
        return f" from step {steps[0]:,}"
    return f" at step{'s' if len(steps) > 1 else ''} {steps_text(f)}"


def steps_text(f: dict, limit: int = 6) -> str:
    ev = f.get("evidence") if isinstance(f.get("evidence"), dict) else {}
    lo = next((ev[k] for k in ("first_step", "start_step") if ev.get(k) is not None), None)
    hi = next((ev[k] for k in ("last_step", "end_step") if ev.get(k) is not None), None)
    if lo is not None and hi is not None and not ev.get("steps"):
        return f"{int(lo):,}–{int(hi):,}"
    steps = finding_steps(f)
    if not steps:
        return ""
    shown = ", ".join(f"{s:,}" for s in steps[:limit])
    return shown + (f" … ({len(steps)} steps)" if len(steps) > limit else "")


def steps_range(f: Facts) -> str:
    first, last, planned = f.steps.get("first"), f.steps.get("last"), f.steps.get("planned")
    if first is None:
        return "—"
    text = f"{first:,}–{last:,}"
    if planned:
        text += f" of {planned:,}"
    return text


def log_gap(f: Facts) -> int:
    return f.log_gap


def change_text(m: dict) -> str:
    """A metric's change: a percentage where one means something, else the absolute change."""
    if m.get("change_pct") is not None:
        return pct(m["change_pct"])
    if m.get("change_abs") is None:
        return "—"
    text = ("+" if m["change_abs"] > 0 else "") + num(m["change_abs"])
    return text + (" (sign change)" if m.get("sign_change") else " (abs.)")
