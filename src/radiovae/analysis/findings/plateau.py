"""``plateau``: the main loss fell and then levelled off (any kind of run).

Judged by the one trend estimator (:func:`radiovae.analysis.stats.trend`): a directional trend
whose tail no longer moves gives ``levelled_since``. For a first-stage VAE the loss is the
reconstruction loss (rec, else nll); for stage 2 it is loss_simple, which flattens early by
nature (it averages the denoising error over all noise levels), so there it is said at info with
what to look at instead; any other run is judged by its total loss.
"""

from __future__ import annotations

import numpy as np

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.analysis.stats import tail_trend, trend
from radiovae.fmt import num

ID = "plateau"
_ROLES = {"vae": ("rec", "nll"), "ldm": ("loss_simple", "total"), "unknown": ("rec", "total")}


def detect(ctx: Context) -> list[Finding]:
    name = next((n for n in (ctx.name(r) for r in _ROLES.get(ctx.kind, ("total",))) if n), None)
    y = ctx.col(name)
    if y is None:
        return []
    fin = np.isfinite(y)
    v, s = y[fin], ctx.step[fin]
    known = ctx.stats.get(name) or {}
    if known.get("over") is None and "tau" in (known.get("trend_test") or {}):
        label, info = known["trend"], known["trend_test"]    # the statistics' own trend test
    else:
        label, info = trend(s, v)
    since = info.get("levelled_since")
    if since is None or label != "decreasing":
        return []      # still falling, rising (divergence judges that) or never fell
    t = tail_trend(s, v, since)
    level, change = t["level"], t["change"]
    share = change / level * 100 if level else 0.0
    msg = (f"{name} has levelled off since step {since:,}: over its last {t['records']:,} "
           f"records the median is {num(level)} and the Theil-Sen change {share:+.1f} % of it "
           f"(Mann-Kendall p = {t['p']:.2f}). It fell from a median of "
           f"{num(float(np.median(v[:max(5, len(v) // 10)])))} in the first tenth of the records.")
    if ctx.kind == "ldm":
        msg += (" A diffusion loss_simple flattens early by nature (it averages the denoising "
                "error over all noise levels): it no longer shows progress, which the samples and "
                "held-out metrics of generated maps do.")
    return [finding(ID, "info", name, msg, span=(int(since), int(s[-1])), level=level,
                    theil_sen_change=change, change_pct_of_level=share, from_step=int(since),
                    to_step=int(s[-1]), trend=label, p=t["p"])]


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    if any(x.id == "divergence" and x.metric == f.metric for x in found):
        return None           # the divergence's recommendation covers it
    if ctx.kind == "ldm":
        return ("Judge stage 2 by sampled maps and their NMSE / SSIM / PSNR against held-out "
                "ground truth, not by loss_simple.")
    if ctx.state.get("state") == "finished":
        return (f"`{f.metric}` has levelled off at the end of the run: evaluate the final "
                "checkpoint on held-out maps.")
    return (f"`{f.metric}` has levelled off: more steps at this learning rate are unlikely to "
            "help much; evaluate the latest checkpoint before training further.")
