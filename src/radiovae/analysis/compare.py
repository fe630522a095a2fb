"""Runs side by side: everything ``radiovae compare`` states, computed once here.

Runs are aligned by training step (not by time or by record index), metric by metric *role*
(``train/rec_loss`` in one run and ``rec_loss`` in another are the same curve). For each run and
metric: its final value, the final value of the TensorBoard-style smoothed curve (debiased EMA,
weight :data:`SMOOTHING_WEIGHT`), the lowest smoothed value and its step for the losses, and the
smoothed value at the last step every run reached. Then the findings a run has that no other run
has (matched by finding id, metric role and severity), the causes a run has that no other has
(matched by id and severity), and the config keys whose values differ, each setting once.

Runs of different kinds (a first-stage VAE and a stage-2 diffusion run) share no metric worth
setting side by side: they are refused (UserError), not compared.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from radiovae.analysis.names import ROLES, find, role_of
from radiovae.analysis.schema import Steps, Summary, from_json, to_json
from radiovae.analysis.smoothing import DEFAULT_WEIGHT, grouped_ema
from radiovae.analysis.summary import jsonable
from radiovae.analysis.validation import validation_summary
from radiovae.errors import UserError
from radiovae.runlog.run import Run

SMOOTHING_WEIGHT = DEFAULT_WEIGHT
# losses a run wants low: their lowest smoothed value is reported. Adversarial terms, weights,
# logvar and the lr have no "better" direction, so only their final values are.
# (not the total: a VAE-GAN total is negative by the adversarial term's arithmetic; not the KL,
# which grows by design under kl_weight 1e-6)
LOWER_IS_BETTER = ("nll", "rec", "loss_simple")
PROGRESS_PANEL_BELOW = 0.2
MAX_EXTRA = 8          # metrics outside the roles that several runs share (e.g. a stage-2 loss)


@dataclass
class Entry:
    """One run to compare: its label, records and analysis (``analyze(run)``)."""

    label: str
    run: Run
    summary: Summary


# -- the comparison, typed (comparison.json is its JSON) -------------------------------------------
@dataclass
class CompareSmoothing:
    method: str
    weight: float
    description: str


@dataclass
class RunBrief:
    """One run as the comparison shows it."""

    label: str
    kind: str
    sources: list[str]
    formats: list[str]
    steps: Steps
    records: int
    switch_step: int | None
    resume_steps: list[int]
    verdict: str
    verdict_reason: str


@dataclass
class CommonSteps:
    first_step: int
    last_step: int


@dataclass
class AtCommon:
    step: int
    smoothed: float | None


@dataclass
class RunSeries:
    """One run's facts for one series (the fields after ``records`` only when it has any)."""

    JSON_DROP_NONE: ClassVar[bool] = True
    column: str
    records: int
    first_step: int | None = None
    last_step: int | None = None
    final: float | None = None
    final_smoothed: float | None = None
    min: float | None = None
    max: float | None = None
    lowest_smoothed: float | None = None
    lowest_step: int | None = None
    at_common: AtCommon | None = None


@dataclass
class Series:
    key: str
    role: str | None
    lower_is_better: bool
    runs: list[RunSeries | None]


@dataclass
class FindingBrief:
    id: str
    severity: str
    metric: str | None
    message: str


@dataclass
class SharedFinding:
    id: str
    metric_role: str | None
    severity: str


@dataclass
class FindingsDiff:
    only_in: dict[str, list[FindingBrief]]
    shared: list[SharedFinding]


@dataclass
class CauseBrief:
    id: str
    severity: str
    text: str
    explains: list[str]


@dataclass
class SharedCause:
    id: str
    severity: str


@dataclass
class CausesDiff:
    only_in: dict[str, list[CauseBrief]]
    shared: list[SharedCause]


@dataclass
class ConfigDifference:
    key: str
    values: list[Any]
    source: str


@dataclass
class ConfigDiff:
    differ: list[ConfigDifference]
    without_config: list[str]
    keys_in_some_only: list[str]


@dataclass
class LabelledValidation:
    label: str
    metric: str
    evaluations: int
    last: float | None
    last_step: int
    lowest: float | None
    lowest_step: int


@dataclass
class IdenticalPair:
    runs: list[str]
    steps: int
    metrics: int


@dataclass
class Comparison:
    """What ``radiovae compare`` says; report/compare.py formats it, comparison.json is its
    JSON (:meth:`to_json`)."""

    smoothing: CompareSmoothing
    runs: list[RunBrief]
    common_steps: CommonSteps | None
    progress_panel: bool
    series: list[Series]
    findings: FindingsDiff
    causes: CausesDiff
    config: ConfigDiff
    validation: list[LabelledValidation]
    identical: list[IdenticalPair]
    colors: dict[str, str] = field(default_factory=dict)   # run label -> its colour in figures

    def to_json(self) -> dict[str, Any]:
        return to_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Comparison:
        return from_json(cls, data)


def compare(entries: Sequence[Entry], weight: float = SMOOTHING_WEIGHT) -> Comparison:
    """The comparison of ``entries`` (the comparison.json of ``radiovae compare``)."""
    if len(entries) < 2:
        raise ValueError("compare needs at least two runs")
    check_kinds(entries)
    runs = [_run_facts(e) for e in entries]
    firsts = [r["steps"]["first"] for r in runs if r["steps"]["first"] is not None]
    lasts = [r["steps"]["last"] for r in runs if r["steps"]["last"] is not None]
    common = None
    if len(firsts) == len(entries) and max(firsts) <= min(lasts):
        common = {"first_step": max(firsts), "last_step": min(lasts)}
    series = [_series(key, entries, weight, common) for key in series_keys(entries)]
    # a run covering under a fifth of the steps the runs span together is a sliver on a shared
    # step axis: the figures then add a panel of each run over its own progress
    spans = [(r["steps"]["first"], r["steps"]["last"]) for r in runs
             if r["steps"].get("first") is not None]
    whole = (max(b for _, b in spans) - min(a for a, _ in spans)) if spans else 0
    progress_panel = bool(whole) and any((b - a) < PROGRESS_PANEL_BELOW * whole for a, b in spans)
    return from_json(Comparison, jsonable({
        "smoothing": {"method": "ema", "weight": weight,
                      "description": f"TensorBoard's debiased exponential moving average, "
                                     f"weight {weight:g}"},
        "runs": runs,
        "common_steps": common,
        "progress_panel": progress_panel,
        "series": series,
        "findings": _findings(entries),
        "causes": _causes(entries),
        "config": _config_diff(entries),
        "validation": _validation(entries),
        "identical": _identical(entries),
    }))


def _identical(entries: Sequence[Entry], min_steps: int = 20) -> list[dict[str, Any]]:
    """Pairs of runs whose shared metrics hold the same value at every shared step: not two
    independent trainings (one log copies the other's records), whatever their configs say."""
    out = []
    for i in range(len(entries)):
        for j in range(i + 1, len(entries)):
            a, b = entries[i].run.table, entries[j].run.table
            cols = [c for c in a.columns if c in b.columns and c not in ("step", "time")]
            if not cols:
                continue
            merged = a[["step", *cols]].merge(b[["step", *cols]], on="step", suffixes=("_a",
                                                                                         "_b"))
            if len(merged) < min_steps:
                continue
            va = merged[[f"{c}_a" for c in cols]].to_numpy(dtype="float64")
            vb = merged[[f"{c}_b" for c in cols]].to_numpy(dtype="float64")
            same = (va == vb) | (np.isnan(va) & np.isnan(vb))
            if same.all():
                out.append({"runs": [entries[i].label, entries[j].label],
                            "steps": int(len(merged)), "metrics": len(cols)})
    return out


KIND_NAMES = {"vae": "a first-stage VAE run", "ldm": "a stage-2 (latent diffusion) run"}


def kind_of(e: Entry) -> str:
    """The entry's kind: its analysis's, else its records'."""
    return str(e.summary.kind or e.run.kind or "unknown")


def check_kinds(entries: Sequence[Entry]) -> None:
    """UserError when the runs are of different known kinds (a VAE and a stage-2 run): their
    losses measure different things, so no row of the comparison would mean anything. A run of
    unknown kind is compared with either."""
    kinds = {kind_of(e): e.label for e in entries if kind_of(e) != "unknown"}
    if len(kinds) > 1:
        named = ", ".join(f"{label} is {KIND_NAMES.get(k, k)}" for k, label in kinds.items())
        raise UserError(f"compare: cannot compare runs of different kinds ({named}); "
                        "compare VAE runs with VAE runs and stage-2 runs with stage-2 runs")


def series_keys(entries: Sequence[Entry]) -> list[str]:
    """The roles any run has (in ROLES order), then up to MAX_EXTRA metrics outside the roles
    that at least two runs log under the same name."""
    keys = [role for role in ROLES if any(find(e.run.table.columns, role) for e in entries)]
    counts: dict[str, int] = {}
    for e in entries:
        for c in e.run.metrics:
            if role_of(c) is None:
                counts[c] = counts.get(c, 0) + 1
    keys += [c for c, n in counts.items() if n >= 2][:MAX_EXTRA]
    return keys


def column_of(run: Run, key: str) -> str | None:
    """The column of ``run`` for a series key (a role, or a metric name)."""
    if key in ROLES:
        return find(run.table.columns, key)
    return key if key in run.table.columns else None


def _run_facts(e: Entry) -> dict[str, Any]:
    s = e.summary
    switch = s.phase("vae_gan")
    return {
        "label": e.label,
        "kind": e.run.kind,
        "sources": [seg.source for seg in e.run.segments],
        "formats": sorted({seg.format for seg in e.run.segments}),
        "steps": to_json(s.steps),
        "records": s.records,
        "switch_step": switch.start_step if switch is not None else None,
        "resume_steps": sorted({r.step for r in s.resumes if r.step is not None}),
        "verdict": s.verdict,
        "verdict_reason": s.verdict_reason,
    }


def smoothed(run: Run, column: str, weight: float = SMOOTHING_WEIGHT
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, raw values, smoothed values) of one column, its finite records only; smoothed as
    the single reports' figures are (:func:`radiovae.analysis.smoothing.grouped_ema`)."""
    step = run.table["step"].to_numpy()
    y = run.table[column].to_numpy(dtype="float64")
    ok = np.isfinite(y)
    return step[ok], y[ok], grouped_ema(y[ok], weight)


def _series(key: str, entries: Sequence[Entry], weight: float,
            common: dict[str, int] | None) -> dict[str, Any]:
    per_run = []
    for e in entries:
        col = column_of(e.run, key)
        if col is None:
            per_run.append(None)
            continue
        step, raw, sm = smoothed(e.run, col, weight)
        if not len(step):
            per_run.append({"column": col, "records": 0})
            continue
        facts: dict[str, Any] = {
            "column": col, "records": int(len(step)),
            "first_step": int(step[0]), "last_step": int(step[-1]),
            "final": float(raw[-1]), "final_smoothed": float(sm[-1]),
            "min": float(raw.min()), "max": float(raw.max()),
        }
        if key in LOWER_IS_BETTER:
            i = int(np.argmin(sm))
            facts["lowest_smoothed"], facts["lowest_step"] = float(sm[i]), int(step[i])
        if common is not None:
            j = int(np.searchsorted(step, common["last_step"], side="right")) - 1
            if j >= 0 and step[j] >= common["first_step"]:
                facts["at_common"] = {"step": int(step[j]), "smoothed": float(sm[j])}
        per_run.append(facts)
    return {"key": key, "role": key if key in ROLES else None,
            "lower_is_better": key in LOWER_IS_BETTER, "runs": per_run}


def _finding_key(f: dict[str, Any]) -> tuple[str, str | None, str]:
    """A finding is the same in two runs when its id, metric role and severity all are: the same
    id at another severity is a different judgement (a warning in one run, info in the other)."""
    metric = f.get("metric")
    return (str(f.get("id")), (role_of(metric) or metric) if metric else None,
            str(f.get("severity")))


def _only_and_shared(entries: Sequence[Entry], items: list[list[dict[str, Any]]], key, show
                     ) -> tuple[dict[str, list[dict[str, Any]]], list[tuple]]:
    """Per run, ``show(item)`` of its items whose ``key`` no other run has; the keys all share."""
    keys = [{key(x) for x in xs} for xs in items]
    only: dict[str, list[dict[str, Any]]] = {}
    for i, (e, xs) in enumerate(zip(entries, items, strict=True)):
        others = set().union(*(k for j, k in enumerate(keys) if j != i))
        only[e.label] = [show(x) for x in xs if key(x) not in others]
    shared = sorted(set.intersection(*keys), key=lambda k: tuple(str(p or "") for p in k))
    return only, shared


def _findings(entries: Sequence[Entry]) -> dict[str, Any]:
    """Per run, its findings whose (id, metric role, severity) no other run has; and those all
    runs share."""
    only, shared = _only_and_shared(
        entries, [to_json(e.summary.findings) for e in entries], _finding_key,
        lambda f: {"id": f.get("id"), "severity": f.get("severity"), "metric": f.get("metric"),
                   "message": f.get("message")})
    return {"only_in": only, "shared": [{"id": i, "metric_role": m, "severity": sev}
                                        for i, m, sev in shared]}


def _causes(entries: Sequence[Entry]) -> dict[str, Any]:
    """Per run, the causes (``Summary.causes``: why findings happened, e.g. an accumulation
    of 1 that never steps RadioDiff's discriminator) whose (id, severity) no other run has."""
    only, shared = _only_and_shared(
        entries, [to_json(e.summary.causes) for e in entries],
        lambda c: (str(c.get("id")), str(c.get("severity"))),
        lambda c: {"id": c.get("id"), "severity": c.get("severity"), "text": c.get("text"),
                   "explains": list(c.get("explains") or [])})
    return {"only_in": only, "shared": [{"id": i, "severity": sev} for i, sev in shared]}


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    elif prefix:
        out[prefix] = d
    return out


def _same(a: Any, b: Any) -> bool:
    if (isinstance(a, (int, float)) and isinstance(b, (int, float))
            and not isinstance(a, bool) and not isinstance(b, bool)):
        return a == b or (a != a and b != b)
    try:
        return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True,
                                                                           default=str)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _all_same(values: Sequence[Any]) -> bool:
    return all(_same(v, values[0]) for v in values)


def _config_diff(entries: Sequence[Entry]) -> dict[str, Any]:
    """Keys whose values differ, each setting once: the analysis keys (disc_start, kl_weight, ...
    wherever each format keeps them), then every raw key the runs' configs all have. An analysis
    key is left out when a raw key ending in it (``trainer.gradient_accumulate_every`` for
    ``gradient_accumulate_every``) holds the same value in every run: the dotted key says where
    the setting lives."""
    known = [{k: v for k, v in e.run.config.items() if k != "raw"} for e in entries]
    raw = [_flat(e.run.config.get("raw") or {}) for e in entries]
    everywhere = set.intersection(*(set(r) for r in raw)) if all(raw) else set()
    differ = []
    for key in sorted(set().union(*known)):
        values = [k.get(key) for k in known]
        if _all_same(values) or _has_twin(key, values, raw, everywhere):
            continue
        differ.append({"key": key, "values": values, "source": "analysis"})
    for key in sorted(everywhere):
        values = [r[key] for r in raw]
        if not _all_same(values):
            differ.append({"key": key, "values": values, "source": "raw"})
    partial = sorted(set().union(*raw) - everywhere)
    return {"differ": differ, "without_config": [e.label for e, r in zip(entries, raw, strict=True)
                                                  if not r],
            "keys_in_some_only": partial}


def _has_twin(key: str, values: list[Any], raw: list[dict[str, Any]], everywhere: set[str]
              ) -> bool:
    """A dotted raw key every run has, ending in ``.key``, equal to ``values`` run by run."""
    return any(full.endswith("." + key)
               and all(_same(r[full], v) for r, v in zip(raw, values, strict=True))
               for full in everywhere)


def _validation(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    return [{"label": e.label, **v} for e in entries for v in validation_summary(e.run)]
