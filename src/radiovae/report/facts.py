"""The facts the report text reads: the summary (and, for now, the table), and the small
formatting helpers every section shares."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from radiovae.analysis.lossmodel import recompute_total
from radiovae.fmt import num
from radiovae.report.document import code
from radiovae.report.marks import finding_steps
from radiovae.report.series import resolve_roles

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
    """Summary + table, with the few derived numbers the text needs (phase means, term sizes)."""

    def __init__(self, table: pd.DataFrame, summary: dict[str, Any]):
        self.t = table
        self.s = summary
        self.metrics: dict[str, dict] = summary.get("metrics") or {}
        self.roles = resolve_roles([*self.metrics, *table.columns])
        self.findings = sorted(summary.get("findings") or [],
                               key=lambda f: _SEV_RANK.get(f.get("severity"), 3))
        self.config = summary.get("config") or {}
        self.steps = summary.get("steps") or {}
        self.phases = summary.get("phases") or []
        self.verdict = summary.get("verdict") or "unknown"
        self._phase_cache: dict[str, pd.DataFrame] = {}
        self._means: dict[tuple[int, str], tuple[pd.DataFrame, float | None]] = {}

    def name(self, role: str) -> str | None:
        return self.roles.get(role)

    def m(self, role: str) -> dict:
        name = self.roles.get(role)
        return self.metrics.get(name, {}) if name else {}

    def has(self, role: str) -> bool:
        return role in self.roles and self.roles[role] in self.t.columns

    def col(self, role: str) -> np.ndarray:
        return self.t[self.roles[role]].to_numpy(dtype=float)

    def about(self, role_or_name: str, *ids: str) -> list[dict]:
        name = self.roles.get(role_or_name, role_or_name)
        return [f for f in self.findings
                if f.get("metric") == name and (not ids or f.get("id") in ids)]

    def with_id(self, *ids: str) -> list[dict]:
        return [f for f in self.findings if f.get("id") in ids]

    def cfg(self, key: str) -> float | None:
        v = self.config.get(key)
        try:
            return float(v) if v is not None else None
        except (TypeError, ValueError):
            return None

    @cached_property
    def log_gap(self) -> int:
        """Steps between records: the config's log_freq, else the typical step difference."""
        freq = self.cfg("log_freq")
        if freq:
            return int(freq)
        st = self.t["step"].to_numpy()[:2001]
        return int(np.median(np.diff(st))) if len(st) > 2 else 1

    @cached_property
    def _sample(self) -> np.ndarray:
        """≤ 5,000 evenly spaced row indices: medians of ratios need no more."""
        n = len(self.t)
        return np.unique(np.linspace(0, n - 1, min(n, 5000)).astype(int)) if n else np.arange(0)

    def sampled(self, role: str) -> np.ndarray:
        return self.t[self.roles[role]].to_numpy(dtype=float)[self._sample]

    @cached_property
    def kl_weight(self) -> tuple[float | None, str]:
        """(kl_weight, "config" | "inferred"): from the config, else from the logged terms as
        median((total − nll − d_weight·disc_factor·g_loss) / KL), two significant digits."""
        v = self.cfg("kl_weight")
        if v is not None:
            return v, "config"
        if not all(self.has(r) for r in ("total", "nll", "kl")):
            return None, ""
        loss = recompute_total(self.t, {}, adversarial_optional=True)   # the analysis' estimate
        w = loss["kl_weight"] if loss is not None else None
        if w is None or not w > 0:
            return None, ""
        return float(f"{w:.2g}"), "inferred"

    def phase_rows(self, name: str) -> pd.DataFrame:
        if name not in self._phase_cache:
            self._phase_cache[name] = self._phase_rows(name)
        return self._phase_cache[name]

    def _phase_rows(self, name: str) -> pd.DataFrame:
        """The phase's rows as a slice (the table is sorted by step: no boolean-mask copy)."""
        for p in self.phases:
            if p.get("name") == name and p.get("start_step") is not None:
                st = self.t["step"].to_numpy()
                lo = np.searchsorted(st, p["start_step"], side="left")
                end = p.get("end_step")
                hi = np.searchsorted(st, end, side="right") if end is not None else len(st)
                return self.t.iloc[lo:hi]
        return self.t.iloc[0:0]

    def mean(self, rows: pd.DataFrame, role: str) -> float | None:
        """Mean of the finite values of ``role`` in ``rows`` (cached; the rows are kept alive
        with the value so that their id cannot be reused)."""
        if not self.has(role) or rows.empty:
            return None
        key = (id(rows), role)
        if key not in self._means:
            v = rows[self.roles[role]].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            self._means[key] = (rows, float(v.mean()) if len(v) else None)
        return self._means[key][1]

    @property
    def switch(self) -> int | None:
        for p in self.phases:
            if p.get("name") == "vae_gan":
                return p.get("start_step")
        return None

    @property
    def configured_switch(self) -> int | None:
        for p in self.phases:
            if p.get("name") == "vae_gan" and p.get("configured_start") is not None:
                return p["configured_start"]
        v = self.cfg("disc_start")
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
