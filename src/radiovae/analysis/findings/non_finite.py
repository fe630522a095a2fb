"""``non_finite``: NaN / inf values. A NaN before a metric's first value is a term not logged yet
(the discriminator's before disc_start), not a failure; from then on every NaN counts."""

from __future__ import annotations

import numpy as np

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.fmt import num

ID = "non_finite"


def detect(ctx: Context) -> list[Finding]:
    out = []
    step = ctx.step
    for name in ctx.metric_columns:
        y = ctx.col(name)
        fin = np.isfinite(y)
        if fin.all() or not (fin.any() or np.isinf(y).any()):
            continue
        start = int(np.argmax(fin | np.isinf(y)))
        bad = ~fin
        bad[:start] = False
        if not bad.any():
            continue
        rows = np.flatnonzero(bad)
        kinds = sorted({"nan" if np.isnan(v) else ("inf" if v > 0 else "-inf") for v in y[rows]})
        steps = [int(s) for s in step[rows]]
        out.append(finding(
            ID, "critical", name,
            f"{name} is non-finite ({'/'.join(kinds)}) in {len(rows):,} row(s), first at step "
            f"{num(steps[0])}: training from there is not trustworthy (check the AMP scaler, "
            "the learning rate and the data).", steps=steps[:200],
            count=int(len(rows)), first_step=steps[0], kinds=kinds))
    return out


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    return (f"Inspect `{f.metric}` at step {f.evidence['first_step']:,}: resume from the "
            "checkpoint before it, and check AMP loss scaling / the learning rate.")
