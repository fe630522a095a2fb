"""``terms_disagree``: g_loss and logits_fake that cannot come from the same discriminator.

latent-diffusion's (and RadioDiff's) generator loss is g_loss = -mean(D(x_hat)), and the
discriminator's line logs logits_fake = mean(D(x_hat)) for the same step's reconstructions: so
g_loss + logits_fake stays near 0 (the autoencoder's update between the two passes moves it a
little). Far from 0 in most VAE-GAN records, the two lines were not written by one discriminator
and run: a log merged from two runs, or terms computed elsewhere.
"""

from __future__ import annotations

import numpy as np

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.fmt import num

ID = "terms_disagree"
MIN_ROWS = 20


def detect(ctx: Context) -> list[Finding]:
    gan = ctx.phase("vae_gan")
    g, fake = ctx.col("g_loss"), ctx.col("logits_fake")
    if gan is None or g is None or fake is None:
        return []
    rows = (ctx.step >= gan["start_step"]) & np.isfinite(g) & np.isfinite(fake)
    if rows.sum() < MIN_ROWS:
        return []
    d = g[rows] + fake[rows]
    gap = float(np.median(d))
    noise = 1.4826 * float(np.median(np.abs(fake[rows] - np.median(fake[rows]))))
    if abs(gap) <= max(0.1, 3 * noise):
        return []
    corr = float(np.corrcoef(g[rows], fake[rows])[0, 1]) if np.ptp(fake[rows]) > 0 else None
    step = ctx.step[rows]
    msg = (f"g_loss should be minus the mean discriminator logit on the reconstructions, but over "
           f"{int(rows.sum()):,} VAE-GAN records g_loss + logits_fake has a median of {num(gap)} "
           f"(g_loss {num(float(np.median(g[rows])))}, logits_fake "
           f"{num(float(np.median(fake[rows])))})"
           + (f", and the two hardly move together (correlation {corr:.2f}, where -1 is "
              "expected)" if corr is not None and corr > -0.5 else "")
           + ". RadioDiff computes both on the same batch with the same discriminator weights "
           "(it is stepped only after both are computed), so they should nearly mirror each "
           "other, the decoder's one update between the two passes apart: these cannot come "
           "from the same discriminator and run.")
    return [finding(ID, "warning", ctx.name("g_loss"), msg, span=(int(step[0]), int(step[-1])),
                    median_sum=gap, logits_fake_noise=noise, correlation=corr,
                    rows=int(rows.sum()))]


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    return ("Check that each step's generator and discriminator lines come from the same run: a "
            "log merged from two runs, or terms computed by other code, mix them. Until they "
            "agree, the adversarial term in the total says nothing about this discriminator.")
