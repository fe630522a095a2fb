"""Wall time from records whose clock may run backwards.

A clock set back (a time-zone or NTP correction, a resume on a machine whose clock differs,
records of two machines merged) makes ``last time - first time`` meaningless: a clock set back
25 h during a 4-min run gave "24 h 56 min of wall time". Here wall time is the sum of the forward
intervals between consecutive records (in step order); each backward interval is counted and
said in a note, never added. Rates (steps/s) should likewise use forward intervals only
(:func:`forward_intervals`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from radiovae.fmt import duration


@dataclass(frozen=True)
class ForwardTime:
    """Wall time of a run's records counted over forward intervals only."""

    elapsed_s: float | None      # sum of the forward intervals (None: < 2 known times)
    span_s: float | None         # latest - earliest time as written
    backward_jumps: int          # intervals where the clock went back
    largest_back_s: float        # the largest of them, in seconds (0 when none)
    first_back_step: int | None  # the step whose time is earlier than the record before it

    def note(self) -> str | None:
        """One line for the run's notes when the clock went back (None otherwise)."""
        if not self.backward_jumps:
            return None
        return (f"the clock went back {self.backward_jumps:,} time(s) (the largest by "
                f"{duration(self.largest_back_s)}, first at step {self.first_back_step:,}): wall "
                f"time ({duration(self.elapsed_s)}) and steps/s count forward intervals only")


def forward_intervals(step: np.ndarray, time: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps advanced, seconds, step at the end) of each interval between consecutive records
    with a known time whose clock went forward; the rows must be in step order."""
    ok = np.isfinite(time)
    s, t = np.asarray(step)[ok], np.asarray(time, dtype="float64")[ok]
    ds, dt = np.diff(s), np.diff(t)
    fwd = dt >= 0
    return ds[fwd], dt[fwd], s[1:][fwd]


def forward_time(table: pd.DataFrame) -> ForwardTime:
    """:class:`ForwardTime` of a run's table (``step`` order, ``time`` in unix seconds)."""
    if "time" not in table.columns or len(table) < 2:
        return ForwardTime(None, None, 0, 0.0, None)
    t = table["time"].to_numpy(dtype="float64")
    ok = np.isfinite(t)
    if ok.sum() < 2:
        return ForwardTime(None, None, 0, 0.0, None)
    s, t = table["step"].to_numpy()[ok], t[ok]
    dt = np.diff(t)
    back = np.flatnonzero(dt < 0)
    return ForwardTime(elapsed_s=float(dt[dt > 0].sum()), span_s=float(t.max() - t.min()),
                       backward_jumps=len(back),
                       largest_back_s=float(-dt[back].min()) if len(back) else 0.0,
                       first_back_step=int(s[back[0] + 1]) if len(back) else None)
