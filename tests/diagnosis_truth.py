"""Labelled diagnosis cases and how a diagnosis is scored against them.

A :class:`Case` is records with known truth: the findings the analysis must report (id, metric,
step range, severity) and the verdict. Scoring (:func:`score`) matches each expected finding to a
reported one of the same id, metric (None: any) and severity whose steps / span meet the range.
``allowed`` findings are true but not required (a diverging reconstruction loss drags the NLL
along; reporting it too is no error, not reporting it no miss). Reported warning and critical
findings that match neither are false positives; so is any finding, whatever its severity, of a
kind the case forbids (VAE language on a stage-2 run, a resume on a run that never stopped).
Info findings a case does not mention are not judged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Expect:
    id: str
    metric: str | None            # None: whatever metric the finding names
    steps: tuple[int, int]        # the finding's steps / span must meet this range
    severity: str


@dataclass
class Case:
    name: str
    paths: list[Path]
    verdict: str
    expect: list[Expect]
    group: str = "synthetic"      # trained | formats | synthetic
    forbidden: list[str] = field(default_factory=list)
    allowed: list[Expect] = field(default_factory=list)
    kind: str | None = None       # the Run.kind the readers must find, if the case says
    note: str = ""


@dataclass
class Result:
    case: Case
    verdict: str
    findings: list[dict[str, Any]]
    hits: list[Expect]
    misses: list[Expect]
    false_positives: list[dict[str, Any]]
    kind: str

    @property
    def ok(self) -> bool:
        return (not self.misses and not self.false_positives and self.verdict == self.case.verdict
                and (self.case.kind is None or self.kind == self.case.kind))

    def explain(self) -> str:
        parts = []
        if self.verdict != self.case.verdict:
            parts.append(f"verdict {self.verdict}, expected {self.case.verdict}")
        if self.case.kind is not None and self.kind != self.case.kind:
            parts.append(f"kind {self.kind}, expected {self.case.kind}")
        parts += [f"missed {e.id}/{e.metric}/{e.severity} in {e.steps}" for e in self.misses]
        parts += [f"unexpected {f['id']}/{f['metric']}/{f['severity']} at {_where(f)}"
                  for f in self.false_positives]
        return "; ".join(parts) or "ok"


def _where(f: dict[str, Any]) -> tuple[int, int] | None:
    if f.get("span"):
        return int(f["span"][0]), int(f["span"][1])
    steps = f.get("steps") or []
    if steps:
        return int(min(steps)), int(max(steps))
    ev = f.get("evidence") or {}
    first = ev.get("first_step", ev.get("step"))
    if first is not None:
        return int(first), int(ev.get("last_step", first))
    return None


def _matches(e: Expect, f: dict[str, Any]) -> bool:
    if f["id"] != e.id or f["severity"] != e.severity:
        return False
    if e.metric is not None and f.get("metric") != e.metric:
        return False
    where = _where(f)
    return where is not None and where[0] <= e.steps[1] and e.steps[0] <= where[1]


def score(case: Case, summary: dict[str, Any], kind: str) -> Result:
    found = summary["findings"]
    used: set[int] = set()
    hits, misses = [], []
    for e in case.expect:
        j = next((i for i, f in enumerate(found) if i not in used and _matches(e, f)), None)
        if j is None:
            misses.append(e)
        else:
            used.add(j)
            hits.append(e)
    fps = [f for i, f in enumerate(found) if i not in used
           and not any(_matches(a, f) for a in case.allowed)
           and (f["severity"] in ("warning", "critical") or f["id"] in case.forbidden)]
    return Result(case, summary["verdict"], found, hits, misses, fps, kind)


def diagnose(case: Case) -> Result:
    from summaries import summary_json

    from radiovae import load_run

    run = load_run(case.paths if len(case.paths) > 1 else case.paths[0])
    return score(case, summary_json(run), run.kind)


def table(results: list[Result]) -> str:
    """Per finding kind: expected, found, precision and recall; then verdict accuracy."""
    exp: dict[str, int] = defaultdict(int)
    tp: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    for r in results:
        for e in r.case.expect:
            exp[e.id] += 1
        for e in r.hits:
            tp[e.id] += 1
        for f in r.false_positives:
            fp[f["id"]] += 1
    lines = [f"{'finding kind':<26}{'expected':>9}{'found':>7}{'false+':>8}{'precision':>11}"
             f"{'recall':>8}"]
    for k in sorted(set(exp) | set(fp)):
        found = tp[k] + fp[k]
        prec = f"{tp[k] / found:.0%}" if found else "-"
        rec = f"{tp[k] / exp[k]:.0%}" if exp[k] else "-"
        lines.append(f"{k:<26}{exp[k]:>9}{tp[k]:>7}{fp[k]:>8}{prec:>11}{rec:>8}")
    n_exp, n_tp, n_fp = sum(exp.values()), sum(tp.values()), sum(fp.values())
    lines.append(f"{'all':<26}{n_exp:>9}{n_tp:>7}{n_fp:>8}"
                 f"{(n_tp / (n_tp + n_fp) if n_tp + n_fp else 1):>11.0%}"
                 f"{(n_tp / n_exp if n_exp else 1):>8.0%}")
    right = sum(r.verdict == r.case.verdict for r in results)
    lines.append(f"verdict accuracy: {right}/{len(results)} = {right / len(results):.0%}; "
                 f"cases fully right: {sum(r.ok for r in results)}/{len(results)}")
    return "\n".join(lines)
