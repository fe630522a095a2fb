"""``weight_saturated``: RadioDiff's adaptive d_weight pinned at its clamp.

``d_weight = disc_weight · clamp(‖∇nll‖ / (‖∇g_loss‖ + 1e-4), 0, 1e4)``, so the cap is
1e4 · disc_weight.
"""

from __future__ import annotations

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
    rule = ctx.cause("d_weight_rule")
    cap = (rule.config_evidence.get("cap") if rule is not None else None)
    if cap is None:
        return []
    dw = ctx.config.get("disc_weight")
    how = (f"1e4 x disc_weight {num(dw)}" if dw is not None else
           f"a round constant at the series' maximum, i.e. 1e4 x disc_weight {num(cap / 1e4)}")
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
                    "the ratio ||grad nll|| / ||grad g_loss|| falls below 1e4 (a smaller NLL "
                    "gradient or a larger adversarial one) and the rule acts")
    g = ctx.col("g_loss")
    if g is not None and in_gan.any():
        offset = float(np.nanmedian((d * g)[in_gan]))
        ev["median_adversarial_term_vae_gan"] = offset
        msg += (f". The d_weight*g_loss term in the total (median {num(offset)} in the VAE-GAN "
                "phase) is the capped d_weight times g_loss. It moves with g_loss and shifts the "
                "total, but it does not show how the gradients compare")
    fs, ls = int(step[fin][0]), int(step[fin][-1])
    # RadioDiff's own rule pins d_weight by design on large maps (the NLL is a sum over every
    # pixel): said, not alarmed; radiovae's per-pixel rule exists to avoid it, so there it warns
    design = rule.config_evidence.get("adaptive_weight", "radiodiff") != "per_pixel"
    if design:
        ev["cause"] = rule.id
        msg += (". RadioDiff's own rule does this whenever ||grad nll|| exceeds 1e4 x "
                "||grad g_loss||, which its NLL, summed over every pixel of a map, makes likely; "
                "the gradient norms are not logged to confirm it")
    return [finding(ID, "info" if design else "warning", name, msg + ".", span=(fs, ls), **ev)]


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    first = ""
    if any(x.id == "discriminator_untrained" and x.severity != "info" for x in found):
        first = ("First make the discriminator learn (see discriminator_untrained): while it "
                 "does not, the balance is moot. ")
    pixels = next((x.evidence.get("pixels") for x in found if x.id == "frozen_metric"
                   and x.evidence.get("pixels")), None)
    return (first + "If the adversarial term should be as strong as disc_weight intends, bring "
            "||grad nll|| / ||grad g_loss|| under the clamp. The NLL is summed over every pixel"
            + (f" ({pixels:,} here)" if pixels else "")
            + ": a mean over pixels shrinks its gradient (then scale kl_weight by the same "
            "factor), or raise the 1e4 cap in calculate_adaptive_weight. A smaller disc_weight "
            "would make the adversarial term weaker still. Log both gradient norms at the last "
            "layer to confirm.")
