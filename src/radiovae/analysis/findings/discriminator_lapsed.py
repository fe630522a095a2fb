"""``discriminator_lapsed``: the discriminator learned to tell real from reconstructed maps for a
while, then fell back to chance (:func:`radiovae.analysis.discriminator.judge`: ``lapsed``).

Over the whole VAE-GAN phase and its second half such a run has the medians of one that never
learned (disc_loss ~1, a logit gap ~0), but a window of its records separated the maps: it is
stepped and its optimizer holds its weights, so ``discriminator_untrained``'s advice (check
opt_disc) would be wrong. What it means is smaller: for most of the phase its logits hardly
differ between real and reconstructed maps, so the adversarial term gives the decoder little to
follow. Info, not a warning: stage 2 needs the reconstructions (the held-out metrics judge
them), and a hinge discriminator that loses its edge against an improving decoder is common in
VAE-GAN training.
"""

from __future__ import annotations

import numpy as np

from radiovae.analysis.discriminator import LEARNED_GAP
from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.analysis.findings.discriminator_untrained import facts
from radiovae.fmt import num

ID = "discriminator_lapsed"
REC_FELL = 0.9      # rec_loss over the second half at most this share of its peak-window median


def detect(ctx: Context) -> list[Finding]:
    gan = ctx.phase("vae_gan")
    if gan is None:
        return []
    d = facts(ctx, ctx.step >= gan["start_step"])
    if d.state != "lapsed":
        return []
    ev = {k: getattr(d, k) for k in (
        "rows", "first_step", "last_step", "second_half_from", "disc_loss_median",
        "disc_loss_median_second_half", "logit_gap_median", "logit_gap_median_second_half",
        "window_records", "peak_gap_median", "peak_disc_loss_median", "peak_from", "peak_to",
        "end_gap_median", "end_from")}
    msg = (f"the discriminator learned, then fell back to chance. Over steps "
           f"{num(d.peak_from)}-{num(d.peak_to)} ({d.window_records} records) it told real from "
           f"reconstructed maps apart (median logit gap {num(d.peak_gap_median)}, disc_loss "
           f"{num(d.peak_disc_loss_median)}), but over the whole VAE-GAN phase (steps "
           f"{num(d.first_step)}-{num(d.last_step)}) its disc_loss median is "
           f"{num(d.disc_loss_median)} with a gap of {num(d.logit_gap_median)}, and over the "
           f"second half {num(d.disc_loss_median_second_half)} with "
           f"{num(d.logit_gap_median_second_half)}: a hinge discriminator at chance.")
    rec = _rec_loss(ctx, d.peak_from, d.peak_to, d.second_half_from)
    if rec is not None:
        ev.update(rec_loss_median_peak=rec[0], rec_loss_median_second_half=rec[1])
        if rec[1] <= REC_FELL * rec[0]:
            msg += (f" Meanwhile the reconstructions got closer to the maps: rec_loss "
                    f"{num(rec[0])} in that window, {num(rec[1])} over the second half.")
    if d.end_gap_median >= LEARNED_GAP and d.peak_to < d.end_from:
        msg += (f" In its last {d.window_records} records (from step {num(d.end_from)}) it "
                f"separates them again (median gap {num(d.end_gap_median)}).")
    msg += (" It is trained (it did learn once), so its optimizer is not at fault; but for most "
            "of the phase its logits barely differ between real and reconstructed maps, so "
            "d_weight*g_loss gives the decoder little to follow.")
    return [finding(ID, "info", ctx.name("disc_loss"), msg, span=(d.peak_from, d.peak_to), **ev)]


def _rec_loss(ctx: Context, a: int, b: int, half: int) -> tuple[float, float] | None:
    """Median rec_loss over the peak window and over the second half of the VAE-GAN phase."""
    rec = ctx.col("rec")
    if rec is None:
        return None
    ok = np.isfinite(rec)
    peak, late = ok & (ctx.step >= a) & (ctx.step <= b), ok & (ctx.step >= half)
    if not peak.any() or not late.any():
        return None
    return float(np.median(rec[peak])), float(np.median(rec[late]))


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    return ("Nothing to fix in the discriminator's optimizer: it learned. Judge the VAE for "
            "stage 2 by its reconstructions (the held-out metrics). If the adversarial term "
            "should keep shaping the decoder, give the discriminator more room than the decoder "
            "has: a wider discriminator (lossconfig.disc_ndf, 64 in RadioDiff), or a higher learning "
            "rate for it than for the autoencoder (RadioDiff's train_vae.py and radiovae give "
            "both optimizers one lr, so that is a change to the trainer).")
