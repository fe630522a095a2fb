"""``divergence``: a reconstruction-side loss whose recent level is several times its best level,
and still rising."""

from __future__ import annotations

import numpy as np

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.analysis.names import role_of, watched
from radiovae.analysis.stats import block_medians, direction
from radiovae.fmt import num

ID = "divergence"


def detect(ctx: Context, ratio_limit: float = 3.0) -> list[Finding]:
    out = []
    step = ctx.step
    for name in watched(ctx.table.columns):
        if role_of(name) == "kl":
            continue   # the KL term rising is normal VAE behaviour, not divergence
        y = ctx.col(name)
        fin = np.isfinite(y)
        if fin.sum() < 20:
            continue
        v, s = y[fin], step[fin]
        if not (v > 0).all():
            continue
        tail = max(5, len(v) // 10)
        recent = float(np.median(v[-tail:]))
        xs, level = block_medians(s[:-tail].astype(float), v[:-tail], blocks=50)
        if not len(level):
            continue
        best_i = int(np.argmin(level))
        best, best_step = float(level[best_i]), int(xs[best_i])
        if best <= 0:
            continue
        ratio = recent / best
        last_q = max(8, len(v) // 4)
        rising, info = direction(s[-last_q:], v[-last_q:])
        if ratio >= 10 or (ratio >= ratio_limit and rising == "increasing"):
            out.append(finding(
                ID, "critical", name,
                f"{name} is diverging: its recent level {num(recent)} (median of the last {tail} "
                f"rows) is {ratio:.1f}x its best smoothed level {num(best)} (around step "
                f"{num(best_step)}) and it is {rising} over the last quarter of the records.",
                span=(int(s[-last_q]), int(s[-1])),
                recent_level=recent, best_level=best, best_step=best_step, ratio=ratio,
                trend_last_quarter=rising, from_step=int(s[-last_q])))
    return out


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    best = f.evidence["best_step"]
    lower = "a lower learning rate"
    if ctx.phase("vae_gan") is not None and ctx.col("d_weight") is not None:
        d = ctx.col("d_weight")
        if np.nanmax(np.abs(d)) > 0:
            lower += " (or a lower disc_weight, if the divergence starts with the discriminator)"
    if ctx.checkpoints is None:
        return (f"Stop, and restart from the last checkpoint you saved before step {best:,} "
                f"(these records do not show which exist) with {lower}.")
    before = [s for s in ctx.checkpoints if s <= best]
    if before:
        return (f"Stop, and restart from checkpoints/model-{before[-1]}.pt (the last one before "
                f"step {best:,}, where `{f.metric}` was at its best) with {lower}.")
    return (f"Stop: no checkpoint in this run dir predates step {best:,}, so restart from the "
            f"beginning with {lower}.")
