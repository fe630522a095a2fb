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
        on = fin & (d > 0)      # d_weight is 0 where the discriminator is off
        if on.sum() < 5:
            return []
        vals, counts = np.unique(d[on], return_counts=True)
        cap = float(vals[np.argmax(counts)])
        scale = 10.0 ** math.floor(math.log10(cap)) if cap > 0 else 0.0   # 0 for denormals
        mant = cap / scale if scale > 0 else 0
        if not (cap == d[fin].max() and any(abs(mant - m) < 1e-9 for m in (1, 2, 2.5, 5))):
            return []
        how = f"a round constant at the series' maximum, i.e. 1e4 x disc_weight {num(cap / 1e4)}"
    at = fin & (np.abs(d - cap) <= 1e-6 * max(abs(cap), 1))
    step = ctx.step
    share = float(at[fin].mean())
    ev: dict[str, Any] = {"value": cap, "clamp_from": how, "share": share,
                          "rows_at_clamp": int(at.sum()), "rows": int(fin.sum())}
    gan = ctx.phase("vae_gan")
    in_gan = fin & (step >= gan["start_step"]) if gan is not None else np.zeros_like(fin)
    if in_gan.any():
        ev["share_vae_gan"] = float(at[in_gan].mean())
        below = np.flatnonzero(in_gan & ~at)
        ev["first_gan_step_below_clamp"] = int(step[below[0]]) if len(below) else None
    if share < 0.5 and ev.get("share_vae_gan", 0) < 0.5:
        return []
    gan_txt = (f" ({ev['share_vae_gan']:.1%} of VAE-GAN rows)" if "share_vae_gan" in ev else "")
    msg = (f"{name} sits at its cap {num(cap)} ({how}) in {share:.1%} of rows{gan_txt}. "
           "RadioDiff's adaptive rule sets d_weight = disc_weight x ||grad nll|| / "
           "||grad g_loss|| at the decoder's last layer, clamped to 1e4 x disc_weight. At the cap "
           "the reconstruction gradient is at least 1e4 times the adversarial one. The adversarial "
           "gradient is then weaker than the rule wants, and the weight is a constant, not "
           "adaptive")
    if in_gan.sum() >= 20:
        rows = np.flatnonzero(in_gan)
        cut = len(rows) - max(2, len(rows) // 10)
        before, last = 1 - float(at[rows[:cut]].mean()), 1 - float(at[rows[cut:]].mean())
        ev.update(below_cap_share_before_last_tenth=before, below_cap_share_last_tenth=last)
        if last >= 0.05 and last >= 3 * before:
            low = rows[np.argmin(d[rows])]
            ev["leaves_cap_near_end"] = True
            msg += (f". d_weight leaves the cap more often near the end: below it in "
                    f"{last:.0%} of the last tenth of the VAE-GAN rows (from step "
                    f"{num(step[rows[cut]])}) against {before:.1%} before. It falls to "
                    f"{num(d[low])} at step {num(step[low])} (latest {num(d[rows[-1]])}): there "
                    "the adversarial gradient is large enough for the adaptive rule to act")
    g = ctx.col("g_loss")
    if g is not None and in_gan.any():
        offset = float(np.nanmedian((d * g)[in_gan]))
        ev["median_adversarial_term_vae_gan"] = offset
        msg += (f". The d_weight*g_loss term in the total (median {num(offset)} in the VAE-GAN "
                "phase) is the capped d_weight times g_loss. It moves with g_loss and shifts the "
                "total, but it does not show how the gradients compare")
    fs, ls = int(step[fin][0]), int(step[fin][-1])
    return [finding(ID, "warning", name, msg + ".", span=(fs, ls), **ev)]


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    first = ""
    if any(x.id == "discriminator_untrained" and x.severity != "info" for x in found):
        first = ("First make the discriminator train (see discriminator_untrained): with a "
                 "fixed random discriminator the balance is moot. ")
    pixels = next((x.evidence.get("pixels") for x in found if x.id == "frozen_metric"
                   and x.evidence.get("pixels")), None)
    return (first + "To let the adaptive rule work, bring ||grad nll|| / ||grad g_loss|| into "
            "the clamp's range: the NLL is summed over every pixel of a map"
            + (f" ({pixels:,} here)" if pixels else "")
            + ", so normalising it (a mean over pixels) shrinks its gradient (then scale "
            "kl_weight by the same factor, or the KL term grows that much stronger relative to "
            "the NLL), or raise the 1e4 cap in calculate_adaptive_weight. A smaller disc_weight "
            "would make the adversarial term weaker still. Log ||grad nll|| and ||grad g_loss|| "
            "at the last layer to confirm.")
