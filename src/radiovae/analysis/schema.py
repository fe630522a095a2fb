"""The summary as types: what ``analyze`` returns and what the report reads, attribute by attribute.

JSON exists only at the edge: :meth:`Summary.to_json` (written as summary.json by
``report.write.write_summary``) and :func:`load_summary` (a saved summary.json back to a
:class:`Summary`). The field names are summary.json's keys; docs/summary-schema.md documents them.
Mappings keyed by the run's own names (metric names, config keys, roles) stay mappings; every
field the analysis defines is an attribute.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Union

from radiovae.analysis.causes import Cause
from radiovae.analysis.discriminator import DiscriminatorFacts
from radiovae.analysis.findings.base import Finding
from radiovae.errors import UserError

SCHEMA_VERSION = 1
"""Bumped when a field is renamed, removed or changes meaning (adding one is no bump)."""


# --------------------------------------------------------------------------- run and state


@dataclass
class RunState:
    """finished | stopped | running | unknown, and the evidence for it (analysis.state)."""

    state: str = "unknown"
    basis: str | None = None
    evidence: str = ""
    last_step: int | None = None
    planned: int | None = None
    last_plan_step: int | None = None
    last_write_unix: float | None = None
    silent_s: float | None = None


@dataclass
class JudgedRecords:
    records: int = 0
    per_phase: dict[str, int] = field(default_factory=dict)
    min_records: int = 0
    too_short: bool = False


@dataclass
class Steps:
    first: int | None = None
    last: int | None = None
    planned: int | None = None
    progress: float | None = None


@dataclass
class Gap:
    after_step: int
    before_step: int
    gap_s: float


@dataclass
class Timing:
    start: str | None = None
    end: str | None = None
    start_unix: float | None = None
    end_unix: float | None = None
    elapsed_s: float | None = None
    active_s: float | None = None
    steps_per_s: float | None = None
    recent_steps_per_s: float | None = None
    eta_s: float | None = None
    gaps: list[Gap] = field(default_factory=list)


@dataclass
class SegmentInfo:
    source: str
    format: str | None = None
    first_step: int | None = None
    last_step: int | None = None
    first_time: float | None = None
    records: int = 0
    skipped_lines: int = 0


@dataclass
class Resume:
    """Where the records start again at an earlier step (runlog's resume records)."""

    step: int | None = None
    previous_last_step: int | None = None
    overlap_steps: int | None = None
    time: float | None = None
    gap_s: float | None = None
    source: str | None = None


@dataclass
class ReadNote:
    source: str = ""
    line: int | None = None
    what: str = ""


@dataclass
class Smoothing:
    method: str
    weight: float


# --------------------------------------------------------------------------- statistics


@dataclass
class LastFifth:
    from_step: int | None = None
    records: int = 0
    p: float | None = None
    change_pct: float | None = None


@dataclass
class TrendTest:
    tau: float | None = None
    p: float | None = None
    theil_sen_change: float | None = None
    levelled_since: int | None = None
    since_change_pct: float | None = None      # the tail's change from levelled_since on
    since_p: float | None = None
    halves: list[str] | None = None            # each half's direction (32+ block medians)
    last_fifth: LastFifth | None = None
    levels: list[float | None] | None = None   # a step-like series' distinct values


@dataclass
class MetricStats:
    """One metric over the records it judges (``over``: "vae_gan" for the discriminator's own
    terms, which mean nothing before the switch)."""

    n: int = 0
    first: float | None = None
    last: float | None = None
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    last_smoothed: float | None = None
    steplike: bool = False
    start_median: float | None = None
    end_median: float | None = None
    window: int | None = None
    change_abs: float | None = None
    change_pct: float | None = None
    sign_change: bool = False
    trend: str | None = None
    trend_test: TrendTest | None = None
    stability_cv: float | None = None
    n_nonfinite: int = 0
    over: str | None = None
    trend_by_phase: dict[str, str] | None = None
    status: str = "ok"


@dataclass
class Phase:
    name: str
    start_step: int
    end_step: int
    configured_start: int | None = None
    source: str | None = None
    records: int = 0
    duration_s: float | None = None
    means: dict[str, float | None] = field(default_factory=dict)
    ranges: dict[str, list[float | None]] = field(default_factory=dict)


@dataclass
class SwitchMean:
    before: float | None = None
    after: float | None = None
    change_pct: float | None = None


@dataclass
class Switch:
    """The records just before and just after the VAE -> VAE-GAN switch."""

    step: int | None = None
    before_records: int = 0
    after_records: int = 0
    means: dict[str, SwitchMean] = field(default_factory=dict)


@dataclass
class ValidationMetric:
    metric: str
    evaluations: int
    last: float | None
    last_step: int
    lowest: float | None
    lowest_step: int


# --------------------------------------------------------------------------- what the loss is


@dataclass
class Spread:
    """A term's median and 5-95 % range over some records."""

    median: float | None
    p5: float | None
    p95: float | None
    records: int


@dataclass
class RecContents:
    pixel_terms: str = ""
    perceptual_weight: float | None = None
    includes_lpips: bool | None = None
    source: str = ""


@dataclass
class LossFacts:
    """What the logged loss is made of (analysis.lossmodel): a VAE's terms, or a stage-2 run's
    total as the running sum of its accumulation passes. Fields a run cannot show stay None."""

    kl_weight: float | None = None
    kl_weight_source: str | None = None
    kl_weight_inferred: float | None = None
    residual_max: float | None = None
    rows_checked: int | None = None
    rows_not_adding_up: int | None = None
    first_step_not_adding_up: int | None = None
    last_step_not_adding_up: int | None = None
    attribution: dict[str, int] | None = None
    adds_up: bool | None = None
    rec_contents: RecContents | None = None
    kl_term_latest: float | None = None
    kl_share_of_nll: float | None = None
    logvar_trains: bool | None = None
    nll_over_rec: float | None = None
    pixels_per_map: int | None = None
    map_side: int | None = None
    adversarial_by_phase: dict[str, Spread] | None = None
    # stage 2
    total_over_simple: float | None = None
    total_over_simple_range: list[float] | None = None
    gradient_accumulate_every: int | None = None
    running_sum_factor: float | None = None
    matches_running_sum: bool | None = None


# --------------------------------------------------------------------------- judgements


@dataclass
class Answer:
    """A direct answer (or a concern answered from evidence): yes / no / unclear."""

    id: str
    question: str
    answer: str
    text: str
    findings: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Confidence:
    level: str = "low"
    reasons: list[str] = field(default_factory=list)
    could_not_check: list[str] = field(default_factory=list)


@dataclass
class Recommendation:
    text: str
    finding: str | None = None


@dataclass
class Evaluation:
    """A checkpoint's held-out scores (train.evaluate's evaluation.json)."""

    nmse: float | None = None
    rmse: float | None = None
    ssim: float | None = None
    psnr: float | None = None
    scale_factor: float | None = None
    latent: dict[str, Any] | None = None
    split: str | None = None
    n_images: int | None = None
    checkpoint: str | None = None
    step: int | None = None
    ema: bool | None = None
    data: dict[str, Any] | None = None
    grid: str | None = None
    metrics_std: dict[str, float] | None = None


# --------------------------------------------------------------------------- marks


@dataclass
class FindingMark:
    """Where a finding is drawn: markers at its steps on its metric's curve (point events: NaN,
    spike, divergence), a band over its span, a horizontal line at a pinned value; and one row
    of the dashboard's timeline."""

    id: str
    severity: str
    metric: str | None
    steps: list[int] = field(default_factory=list)
    span: list[int] | None = None
    on_curve: bool = False           # drawn on the metric's own curve (a point event)
    hline: float | None = None       # a value the metric is pinned at (weight_saturated)


@dataclass
class Marks:
    """Steps every figure marks, computed once by the analysis and drawn by both renderers."""

    switch: int | None = None
    switch_label: str = ""
    resumes: list[int] = field(default_factory=list)
    findings: list[FindingMark] = field(default_factory=list)

    def on(self, metric: str) -> list[FindingMark]:
        """Point events about ``metric`` (non-finite values, spikes, divergence)."""
        return [m for m in self.findings if m.metric == metric and m.on_curve and m.steps]

    def ids_on(self, metric: str) -> list[str]:
        """Warning / critical findings about ``metric``, for its figure's title."""
        return [m.id for m in self.findings
                if m.metric == metric and m.severity in ("warning", "critical")]


# --------------------------------------------------------------------------- the summary


@dataclass
class Summary:
    """Everything the report says about a run; built by :func:`radiovae.analysis.summary.analyze`."""

    state: RunState
    judged_records: JudgedRecords
    steps: Steps
    records: int
    time: Timing
    metrics: dict[str, MetricStats]
    phases: list[Phase]
    segments: list[SegmentInfo]
    resumes: list[Resume]
    config: dict[str, Any]
    config_sources: dict[str, str]
    causes: list[Cause]
    findings: list[Finding]
    verdict: str
    verdict_reason: str
    skipped_lines: int
    read_notes: list[ReadNote]
    read_note_count: int
    end: dict[str, Any] | None
    evaluation: Evaluation | None
    kind: str
    roles: dict[str, str]
    run_dir: str | None
    checkpoints: list[int] | None
    log_gap: int
    smoothing: Smoothing
    loss: LossFacts
    discriminator: DiscriminatorFacts
    switch: Switch | None           # None: no VAE-GAN phase, or no records around its start
    validation: list[ValidationMetric]
    marks: Marks = field(default_factory=Marks)
    answers: list[Answer] = field(default_factory=list)
    concerns: list[Answer] = field(default_factory=list)
    confidence: Confidence = field(default_factory=Confidence)
    recommendations: list[Recommendation] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)

    def answer(self, id: str) -> Answer | None:
        return next((a for a in self.answers if a.id == id), None)

    def to_json(self) -> dict[str, Any]:
        """summary.json's content: strict JSON (non-finite numbers -> null)."""
        out = to_json(self)
        return {"schema_version": out.pop("schema_version"), **out}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        version = data.get("schema_version", SCHEMA_VERSION) if isinstance(data, dict) else None
        if version != SCHEMA_VERSION:
            raise SummaryError(f"summary.json has schema_version {version!r}; this radiovae "
                               f"reads version {SCHEMA_VERSION}")
        return from_json(cls, data)


class SummaryError(UserError):
    """A saved summary that is not one this radiovae wrote (one line on stderr, exit 2)."""


def load_summary(path: str | Path) -> Summary:
    """A saved summary.json back as a :class:`Summary`."""
    path = Path(path)
    if path.is_dir():
        path = path / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SummaryError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SummaryError(f"{path}: not a summary.json ({e})") from None
    try:
        return Summary.from_json(data)
    except (TypeError, ValueError, KeyError) as e:
        raise SummaryError(f"{path}: not a summary.json radiovae wrote ({e})") from None


# --------------------------------------------------------------------------- the codec


def to_json(obj: Any) -> Any:
    """Dataclasses -> dicts (field order), numpy -> Python, non-finite floats -> None, tuples ->
    lists; the null fields of the fact bags (:data:`_DROP_NONE`) are left out."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        drop = isinstance(obj, _DROP_NONE) or getattr(obj, "JSON_DROP_NONE", False)
        return {f.name: to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not (drop and getattr(obj, f.name) is None)}
    if isinstance(obj, dict):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if hasattr(obj, "tolist"):                      # numpy scalars and arrays
        return to_json(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


# bags of facts that hold only what a run shows: their null fields are left out of summary.json
_DROP_NONE = (LossFacts, Evaluation, Resume, ReadNote)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_json(tp: Any, data: Any) -> Any:
    """``data`` (parsed JSON) as type ``tp``: dataclasses field by field (unknown keys refused),
    lists, dicts, optionals; anything else as it is."""
    if tp is Any or data is None:
        return data
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return from_json(args[0], data) if len(args) == 1 else data
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise TypeError(f"{tp.__name__}: expected an object, got {type(data).__name__}")
        hints = _hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        unknown = set(data) - names
        if unknown:
            raise KeyError(f"{tp.__name__} has no field {sorted(unknown)[0]!r}")
        return tp(**{k: from_json(hints[k], v) for k, v in data.items()})
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        return [from_json(item, v) for v in data]
    if origin is tuple:
        return tuple(data)
    if origin is dict:
        _, value = typing.get_args(tp) or (Any, Any)
        return {k: from_json(value, v) for k, v in data.items()}
    return data
