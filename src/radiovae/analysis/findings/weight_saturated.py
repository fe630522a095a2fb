"""``weight_saturated``: RadioDiff's adaptive d_weight pinned at its clamp.

``d_weight = disc_weight · clamp(‖∇nll‖ / (‖∇g_loss‖ + 1e-4), 0, 1e4)``, so the cap is
1e4 · disc_weight.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.fmt import num

ID = "weight_saturated"


def detect(ctx: Context) -> list[Finding]:
    name = ctx.name("d_weight")
    d = ctx.col(name)
    if d is None:
        return []
    fin = np.isfinite(d)
    if fin.sum() < 5:
        return []
    dw = ctx.config.get("disc_weight")
    if dw is not None:
        cap, how = 1e4 * float(dw), f"1e4 x disc_weight {num(dw)}"
    else:  # infer: a round constant that is also the maximum, in most rows
        vals, counts = np.unique(d[fin], return_counts=True)
        cap = float(vals[np.argmax(counts)])
        mant = cap / 10 ** math.floor(math.log10(cap)) if cap > 0 else 0
        if not (cap == d[fin].max() and any(abs(mant - m) < 1e-9 for m in (1, 2, 2.5, 5))):
            return []
        how = f"a round constant at the series' maximum, i.e. 1e4 x disc_weight {num(cap / 1e4)}"
    at = fin & (np.abs(d - cap) <= 1e-6 * max(abs(cap), 1))
    step = ctx.step
    share = float(at[fin].mean())
    ev: dict[str, Any] = {"value": cap, "clamp_from": how, "share": share,
                          "rows_at_clamp": int(at.sum()), "rows": int(fin.sum())}
    gan = ctx.phase("vae_gan")
    if gan is not None:
        in_gan = fin & (step >= gan["start_step"])
        if in_gan.any():
            ev["share_vae_gan"] = float(at[in_gan].mean())
            below = np.flatnonzero(in_gan & ~at)
            ev["first_gan_step_below_clamp"] = int(step[below[0]]) if len(below) else None
    if share < 0.5 and ev.get("share_vae_gan", 0) < 0.5:
        return []
    gan_txt = (f" ({ev['share_vae_gan']:.1%} of VAE-GAN rows)" if "share_vae_gan" in ev else "")
    msg = (f"{name} sits at {num(cap)} ({how}, its clamp) in {share:.1%} of rows{gan_txt}. The "
           "adaptive weight ||grad nll|| / ||grad g_loss|| exceeds the 1e4 cap: the adversarial "
           "gradient is tiny next to the reconstruction gradient, so the GAN term is weighted by "
           "the cap, not adaptively, and d_weight*g_loss dominates the total loss. Consider a "
           "smaller disc_weight or checking the last-layer gradient used for the weight.")
    fs, ls = int(step[fin][0]), int(step[fin][-1])
    return [finding(ID, "warning", name, msg, span=(fs, ls), **ev)]


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    dw = ctx.cfg("disc_weight")
    return ((f"Lower disc_weight (now {num(dw)}) " if dw is not None else "Lower disc_weight ")
            + "or check the clamp: with d_weight pinned at 1e4·disc_weight the generator term "
            "is as large as the clamp allows. Log ‖∇nll‖ and ‖∇g_loss‖ at the last layer to "
            "see which one is off.")
