"""``plateau``: the main reconstruction loss no longer improving over the last quarter of the
records."""

from __future__ import annotations

import numpy as np

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.analysis.stats import block_medians, direction
from radiovae.fmt import num

ID = "plateau"


def detect(ctx: Context) -> list[Finding]:
    name = next((n for n in (ctx.name(r) for r in ("rec", "nll")) if n), None)
    y = ctx.col(name)
    if y is None:
        return []
    fin = np.isfinite(y)
    v, s = y[fin], ctx.step[fin]
    q = len(v) // 4
    if q < 20:
        return []
    label, info = direction(s[-q:], v[-q:], alpha=0.05, min_change=0.02)
    if label != "flat":
        return []     # still falling, or rising (divergence judges that): no plateau
    xs, ys = block_medians(s[-q:].astype(float), v[-q:])
    level = float(np.median(ys))
    change = info.get("theil_sen_change") or 0.0
    msg = (f"{name} has plateaued: over the last {q:,} records (steps {num(s[-q])}-{num(s[-1])}) "
           f"its Theil-Sen change is {change / level * 100 if level else 0:+.1f}% of its level "
           f"{num(level)} ({label}).")
    if ctx.progress is not None and ctx.progress < 0.98:
        msg += " More steps at this learning rate are unlikely to help much."
    return [finding(ID, "info", name, msg, span=(int(s[-q]), int(s[-1])), level=level,
                    theil_sen_change=change, from_step=int(s[-q]), to_step=int(s[-1]),
                    trend=label, p=info.get("p"))]


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    if any(x.id == "divergence" and x.metric == f.metric for x in found):
        return None           # the divergence's recommendation covers it
    return (f"`{f.metric}` has stopped improving: consider a learning-rate decay, or stop "
            "and evaluate the checkpoint.")
