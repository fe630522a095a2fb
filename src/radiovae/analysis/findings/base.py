"""Findings: what a careful reader of every number would point out, each with its evidence.

A :class:`Finding` is the contract between analysis and report: the report prints its message
and recommendation and marks its steps / span on the figures; it re-derives nothing. The
:class:`Context` resolves metric roles and phases once for every finding kind.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from radiovae.analysis.names import ROLES, find

SEVERITY = {"info": 0, "warning": 1, "critical": 2}


@dataclass
class Finding:
    """One thing worth saying about a run.

    ``steps``: single steps the finding names (drawn as markers); ``span``: the (first, last)
    step range it concerns, if any; ``recommendation``: what to do, or None when nothing is to be
    done.
    """

    id: str
    severity: str
    metric: str | None
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    steps: list[int] = field(default_factory=list)
    span: tuple[int, int] | None = None
    recommendation: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["span"] = list(self.span) if self.span is not None else None
        return d


@dataclass
class Context:
    """A run as the finding kinds see it: the table, its config, phases and metric roles.

    ``config`` is the flattened config (no ``raw``); ``formats`` the record formats read;
    ``kind`` the run kind (``vae`` | ``ldm`` | ``unknown``).
    """

    table: pd.DataFrame
    config: dict[str, Any]
    phases: list[dict[str, Any]]
    progress: float | None = None
    formats: set[str] = field(default_factory=set)
    resumes: list[dict[str, Any]] = field(default_factory=list)
    kind: str = "vae"
    evaluation: dict[str, Any] | None = None
    raw_config: dict[str, Any] | None = None
    # decimals the values were printed with (RadioDiff's {:.5f}: 5); None: full precision
    decimals: int | None = None
    # per metric, the steps whose records wrote NaN (Run.nan_steps); any other NaN cell is a
    # value never written (absent, not non-finite). None: the readers could not tell
    nan_steps: dict[str, np.ndarray] | None = None

    def absent(self, name: str) -> np.ndarray:
        """Rows of ``name`` that hold NaN only because no value was written there."""
        y = self.col(name)
        if self.nan_steps is None or y is None:
            return np.zeros(len(self.table), dtype=bool)
        written = self.nan_steps.get(name)
        nan = np.isnan(y)
        if written is None or not len(written):
            return nan
        return nan & ~np.isin(self.step, written)
    # steps of the checkpoints in the run dir (checkpoints/model-<step>.pt); None when the
    # records are not a radiovae run dir, so which checkpoints exist is unknown
    checkpoints: list[int] | None = None
    # the run's state (analysis.state.run_state) and the causes read from its config
    # (analysis.causes.find_causes), both decided before any finding
    state: dict[str, Any] = field(default_factory=dict)
    causes: list[Any] = field(default_factory=list)
    # each metric's statistics (analysis.stats.metric_stats), computed before any finding: a
    # finding reads a metric's trend from here rather than testing it a second time
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    # facts more than one reader needs, computed once (e.g. the discriminator's)
    memo: dict[str, Any] = field(default_factory=dict)

    def cause(self, id: str) -> Any | None:
        return next((c for c in self.causes if c.id == id), None)

    @cached_property
    def roles(self) -> dict[str, str]:
        """role -> column, for every role these records have."""
        cols = list(self.table.columns)
        return {r: n for r in ROLES if (n := find(cols, r)) is not None}

    @cached_property
    def step(self) -> np.ndarray:
        return self.table["step"].to_numpy()

    def name(self, role: str) -> str | None:
        return self.roles.get(role)

    def col(self, role_or_name: str | None) -> np.ndarray | None:
        """The float column playing ``role`` (or named so), or None."""
        if role_or_name is None:
            return None
        name = self.roles.get(role_or_name, role_or_name)
        if name not in self.table.columns:
            return None
        return self.table[name].to_numpy(dtype="float64")

    def phase(self, name: str) -> dict[str, Any] | None:
        return next((p for p in self.phases if p["name"] == name), None)

    def cfg(self, key: str) -> float | None:
        return config_float(self.config, key)

    @property
    def metric_columns(self) -> list[str]:
        return [c for c in self.table.columns if c not in ("step", "time")]


def config_float(config: dict[str, Any], key: str) -> float | None:
    """A config value as a number, None when absent or not a number (analysis and report alike)."""
    v = config.get(key)
    try:
        return float(v) if v is not None else None
    except (TypeError, ValueError):
        return None


def finding(id: str, severity: str, metric: str | None, message: str, *,
            steps: list[int] | None = None, span: tuple[int, int] | None = None,
            **evidence: Any) -> Finding:
    return Finding(id=id, severity=severity, metric=metric, message=message, evidence=evidence,
                   steps=sorted({int(s) for s in (steps or [])}),
                   span=(int(span[0]), int(span[1])) if span is not None else None)
