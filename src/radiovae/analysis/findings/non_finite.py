"""``non_finite``: NaN / inf values. A NaN before a metric's first value is a term not logged yet
(the discriminator's before disc_start), not a failure; from then on every NaN counts.

Severity follows the consequence: an isolated non-finite row followed by finite values on the
trend of those before it is a skipped step (AMP's scaler skips such steps): a warning. Values
that stay non-finite (a run of them, or the end of the records), or finite values after it that
are off the earlier trend, mean the weights were damaged: critical.
"""

from __future__ import annotations

import numpy as np

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.fmt import num

ID = "non_finite"
ON_CURVE = True   # the figures mark its steps on the metric's curve
MAX_RUN = 2          # consecutive non-finite rows that still count as skipped steps
MAX_SHARE = 0.01     # ... and at most this share of the rows after the first one
ON_TREND = 3.0       # finite values after: median within this factor of the median before


def detect(ctx: Context) -> list[Finding]:
    out = []
    step = ctx.step
    for name in ctx.metric_columns:
        y = ctx.col(name)
        fin = np.isfinite(y)
        if fin.all() or not (fin.any() or np.isinf(y).any()):
            continue
        start = int(np.argmax(fin | np.isinf(y)))
        bad = ~fin & ~ctx.absent(name)         # absent (never written) is not NaN
        bad[:start] = False
        if not bad.any():
            continue
        rows = np.flatnonzero(bad)
        kinds = sorted({"nan" if np.isnan(v) else ("inf" if v > 0 else "-inf") for v in y[rows]})
        steps = [int(s) for s in step[rows]]
        severity, why, ev = _judge(y, fin, rows, start)
        out.append(finding(
            ID, severity, name,
            f"{name} is non-finite ({'/'.join(kinds)}) in {len(rows):,} row(s), first at step "
            f"{num(steps[0])}: {why}", steps=steps[:200],
            count=int(len(rows)), first_step=steps[0], kinds=kinds, **ev))
    return out


def _judge(y: np.ndarray, fin: np.ndarray, rows: np.ndarray, start: int
           ) -> tuple[str, str, dict]:
    runs = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
    longest = max(len(r) for r in runs)
    after = len(y) - rows[0]
    ev = {"longest_run": int(longest), "to_the_end": bool(not fin[-1])}
    if not fin[-1]:
        return "critical", ("it stays non-finite to the last record: training from there is not "
                            "trustworthy (check the AMP scaler, the learning rate and the "
                            "data)."), ev
    if longest > MAX_RUN or len(rows) > max(1, MAX_SHARE * after):
        return "critical", (f"it recurs ({len(rows):,} rows, up to {longest} in a row): the "
                            "training is numerically unstable (check the AMP scaler, the "
                            "learning rate and the data)."), ev
    before = y[start:rows[0]][fin[start:rows[0]]][-20:]
    later = y[rows[-1] + 1:][fin[rows[-1] + 1:]][:20]
    if len(before) >= 3 and len(later) >= 3:
        b, a = float(np.median(np.abs(before))), float(np.median(np.abs(later)))
        ev.update(median_before=float(np.median(before)), median_after=float(np.median(later)))
        if b > 0 and a / b > ON_TREND or a > 0 and b / a > ON_TREND * 10:
            return "critical", (f"the values after it (median {num(ev['median_after'])}) are off "
                                f"the trend before it (median {num(ev['median_before'])}): the "
                                "step damaged the weights."), ev
    return "warning", ("isolated, and the values after it continue the trend before it: most "
                       "likely a skipped step (AMP's scaler skips steps whose gradients are "
                       "non-finite), harmless if it stays rare."), ev


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    if f.severity == "warning":
        return (f"Watch `{f.metric}` for more non-finite values; if they recur, lower the "
                "learning rate or check AMP loss scaling and the data at step "
                f"{f.evidence['first_step']:,}.")
    return (f"Inspect `{f.metric}` at step {f.evidence['first_step']:,}: restart from the last "
            "checkpoint before it, and check AMP loss scaling / the learning rate.")
