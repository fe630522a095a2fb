"""How much of a source radiovae keeps in memory: at most :data:`MAX_METRICS` metrics, and at
most :data:`MAX_CELLS` values (rows x metrics) in one table.

Readers build a dense table (one float64 column per metric), so a file that names 10^6 different
metrics, or one JSON line of 1.5 M keys, would ask for terabytes. Each reader asks a
:class:`MetricCap` which names to keep *before* it builds the table of a chunk: names already
kept stay; new ones are admitted, the most complete first (most values in that chunk), while
fewer than the limit are kept; the rest are counted and named in one note. A table that would
still hold more than :data:`MAX_CELLS` values (a very long run with very many metrics) is refused
in one line. With the 32 MiB chunks of ``chunks.py`` this bounds a report's peak memory (the
README's budget and how it was measured).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from radiovae.errors import UserError, brief

MAX_METRICS = 2000
MAX_CELLS = 50_000_000           # 400 MB of float64: the table, with the analysis' copies < 2 GB
_NAMED = 3


@dataclass
class MetricCap:
    """The metrics one source (or one run) keeps, chosen as its chunks are read."""

    limit: int = field(default_factory=lambda: MAX_METRICS)
    kept: dict[str, None] = field(default_factory=dict)       # ordered set
    dropped: Counter = field(default_factory=Counter)          # name -> values not kept

    def choose(self, counts: Mapping[str, int], rows: int) -> set[str]:
        """Of the metrics in ``counts`` (name -> values in this chunk), the ones to keep, for a
        table that will hold ``rows`` rows in all so far."""
        room = min(self.limit, MAX_CELLS // max(rows, 1))
        new = [k for k in counts if k not in self.kept]
        if len(self.kept) + len(new) > room:
            new.sort(key=lambda k: -counts[k])                  # stable: ties in file order
        for k in new:
            if len(self.kept) < room:
                self.kept[k] = None
            else:
                self.dropped[k] += counts[k]
        return {k for k in counts if k in self.kept}

    def note(self) -> str | None:
        """The note naming what was not kept (None when everything was)."""
        if not self.dropped:
            return None
        names = ", ".join(brief(k) for k, _ in self.dropped.most_common(_NAMED))
        more = ", …" if len(self.dropped) > _NAMED else ""
        return (f"{len(self.dropped):,} metric(s) not kept ({sum(self.dropped.values()):,} "
                f"values): at most {self.limit:,} metrics and {MAX_CELLS:,} values are held, the "
                f"most complete first; not kept: {names}{more}")


def check_cells(source: str, rows: int, metrics: int) -> None:
    """UserError when a table of ``rows`` x ``metrics`` would exceed :data:`MAX_CELLS`."""
    if rows * metrics > MAX_CELLS:
        raise UserError(f"{source}: {rows:,} records of {metrics:,} metrics are more values than "
                        f"radiovae holds in memory ({MAX_CELLS:,}); give fewer metrics or a part "
                        "of the records")


def count_keys(rows: Iterable[Mapping[str, object]], skip: Iterable[str]) -> Counter:
    """How many rows hold each key (``skip``: bookkeeping keys, not metrics)."""
    skip = set(skip)
    counts: Counter = Counter()
    for r in rows:
        counts.update(r.keys())
    for k in skip:
        counts.pop(k, None)
    return counts


def cap_parsed(frame: pd.DataFrame | None, rows: list[tuple], cap: MetricCap | None,
               rows_before: int, fixed: Iterable[str]) -> tuple[pd.DataFrame | None, list, str | None]:
    """A chunk parsed as a ``frame`` (its ``fixed`` columns are not metrics) and ``rows`` whose
    last item is a {metric: value} dict, with only the metrics ``cap`` keeps, chosen before the
    rows become a dense table. Without a cap, a fresh one: its note is returned."""
    own = cap is None
    cap = cap or MetricCap()
    fixed = set(fixed)
    counts: Counter = Counter()
    if frame is not None:
        counts.update({c: int(frame[c].notna().sum()) for c in frame.columns if c not in fixed})
    for r in rows:
        counts.update(r[-1].keys())
    keep = cap.choose(counts, rows_before + len(rows) + (len(frame) if frame is not None else 0))
    if len(keep) < len(counts):
        if frame is not None:
            frame = frame[[c for c in frame.columns if c in fixed or c in keep]]
        rows = [(*r[:-1], {k: v for k, v in r[-1].items() if k in keep}) for r in rows]
    return frame, rows, cap.note() if own else None


def cap_tables(tables: list[pd.DataFrame], fixed: Iterable[str] = ("step", "time")
               ) -> tuple[list[pd.DataFrame], str | None]:
    """The tables of one run's sources with at most :data:`MAX_METRICS` metrics among them all
    (the most complete: most values over all sources) and their note; as given when they fit."""
    fixed = set(fixed)
    names = {c for t in tables for c in t.columns if c not in fixed}
    rows = sum(len(t) for t in tables)
    if len(names) <= MAX_METRICS and rows * len(names) <= MAX_CELLS:
        return tables, None
    counts: Counter = Counter()
    for t in tables:
        counts.update({c: int(t[c].notna().sum()) for c in t.columns if c not in fixed})
    cap = MetricCap()
    keep = cap.choose(dict(sorted(counts.items(), key=lambda kv: -kv[1])), rows)
    return [t[[c for c in t.columns if c in fixed or c in keep]] for t in tables], cap.note()
