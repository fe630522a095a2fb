"""``discriminator_lapsed``: the discriminator learned to tell real from reconstructed maps for a
while, then fell back to chance (:func:`radiovae.analysis.discriminator.judge`: ``lapsed``).

Over the whole VAE-GAN phase and its second half such a run has the medians of one that never
learned (disc_loss ~1, a logit gap ~0), but a window of its records separated the maps, so
``discriminator_untrained``'s reading (no sign of learning, check opt_disc) does not fit. What
the records show is smaller: for most of the phase its logits hardly differ between real and
reconstructed maps, while the adaptive d_weight scales the adversarial term up. Info, not a
warning: stage 2 needs the reconstructions (the held-out metrics judge them), and a hinge
discriminator held near chance by the decoder is common in VAE-GAN training.
"""

from __future__ import annotations

import numpy as np

from radiovae.analysis.discriminator import LEARNED_GAP
from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.analysis.findings.discriminator_untrained import facts
from radiovae.fmt import num

ID = "discriminator_lapsed"


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
    msg = (f"the discriminator separated real from reconstructed maps for a while, then went "
           f"back near chance. Over steps {num(d.peak_from)}-{num(d.peak_to)} "
           f"({d.window_records} records) the median gap between its logits on real and "
           f"reconstructed maps was {num(d.peak_gap_median)} and its disc_loss "
           f"{num(d.peak_disc_loss_median)} (chance: a gap near 0, a loss near 1); over the whole "
           f"VAE-GAN phase (steps {num(d.first_step)}-{num(d.last_step)}) the medians are a gap "
           f"of {num(d.logit_gap_median)} and a disc_loss of {num(d.disc_loss_median)}, over its "
           f"second half {num(d.logit_gap_median_second_half)} and "
           f"{num(d.disc_loss_median_second_half)}, and over its last {d.window_records} records "
           f"(from step {num(d.end_from)}) a gap of {num(d.end_gap_median)}.")
    if d.end_gap_median >= LEARNED_GAP and d.peak_to < d.end_from:
        msg += " At the end it separates them again."
    dw = _median(ctx, "d_weight", d.first_step)
    if dw is not None:
        ev["d_weight_median_vae_gan"] = dw
        msg += (f" The adaptive d_weight has a median of {num(dw)} over the phase: it scales "
                "d_weight*g_loss to the NLL's gradient, not to how well the discriminator does, "
                "so that term stays in the total while the discriminator behind it barely tells "
                "the maps apart.")
    return [finding(ID, "info", ctx.name("disc_loss"), msg, span=(d.peak_from, d.peak_to), **ev)]


def _median(ctx: Context, role: str, start: int) -> float | None:
    """Median of a metric over the records from step ``start`` on."""
    col = ctx.col(role)
    if col is None:
        return None
    x = col[(ctx.step >= start) & np.isfinite(col)]
    return float(np.median(x)) if len(x) else None


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    return ("Judge the VAE for stage 2 by its reconstructions (the held-out metrics), not by "
            "the discriminator. If the adversarial term should shape the decoder, lighten it so "
            "that the discriminator can keep up: a lower disc_weight (measured once, on "
            "radiovae's demo: 0.01 instead of 0.1 kept the discriminator separating the maps to "
            "the end, with held-out PSNR within 0.3 dB).")
