"""``divergence``: a reconstruction-side loss whose recent level is several times its best level,
and still rising."""

from __future__ import annotations

import numpy as np

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.analysis.names import role_of, watched
from radiovae.analysis.stats import block_medians, direction
from radiovae.fmt import num

ID = "divergence"
ON_CURVE = True   # the figures mark its steps on the metric's curve


def detect(ctx: Context, ratio_limit: float = 3.0) -> list[Finding]:
    out = []
    step = ctx.step
    for name in watched(ctx.table.columns):
        if role_of(name) == "kl":
            out += _kl_blowup(ctx, name)   # the KL rising gradually is normal VAE behaviour
            continue
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


def _kl_blowup(ctx: Context, name: str, jump: float = 100.0) -> list[Finding]:
    """The KL jumping by ``jump``x or more from one record to the next and staying up: the latent
    blew up (a learning rate far too high), which no gradual KL growth does."""
    y, step = ctx.col(name), ctx.step
    fin = np.flatnonzero(np.isfinite(y) & (y > 0))
    if len(fin) < 8:
        return []
    v = y[fin]
    ratios = v[1:] / v[:-1]
    i = int(np.argmax(ratios))
    if ratios[i] < jump:
        return []
    before = float(np.median(v[max(0, i - 4):i + 1]))
    after = v[i + 1:]
    stays = float(np.median(after))
    if stays < jump * before:
        return []      # it came back down: a spike, not a blow-up
    s0, s1 = int(step[fin[i]]), int(step[fin[i + 1]])
    return [finding(
        ID, "critical", name,
        f"{name} blew up: it jumped {ratios[i]:,.0f}x from {num(v[i])} at step {num(s0)} to "
        f"{num(v[i + 1])} at step {num(s1)}, and stays at a median of {num(stays)} "
        f"({stays / before:,.0f}x its level before) to the last record. Gradual KL growth is "
        "normal for a VAE with a small kl_weight; a jump of orders of magnitude in one step is "
        "not: the latent's variance or mean exploded (a learning rate far too high, most likely).",
        span=(s0, int(step[fin[-1]])), recent_level=stays, best_level=before, best_step=s0,
        ratio=stays / before, from_step=s1, jump=float(ratios[i]))]


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
