"""The discriminator judged once, from its own terms (disc_loss, logits_real, logits_fake) over
the VAE-GAN records: the ``discriminator_untrained`` finding, the "Is the discriminator working?"
answer and the report's discriminator section all read :class:`DiscriminatorFacts`, so no
answer can grade the discriminator by another rule than the finding's.

Medians, not means (a few wild logits move a mean), over all the VAE-GAN records and over their
second half (where the discriminator ends up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HINGE_UNTRAINED = 1.0   # hinge loss of a discriminator whose logits are ~0 on both inputs
# a hinge discriminator with logits +-a inside the margin has loss 1 - a = 1 - gap/2: a gap
# below 0.5 (loss above ~0.75) separates real from reconstructed maps only weakly
CLEAR_GAP = 0.5
WINS_LOSS = 0.05        # a hinge loss this low: the generator no longer fools it at all
MIN_ROWS = 20           # fewer VAE-GAN records with all three terms: too early to judge


@dataclass
class DiscriminatorFacts:
    """``state``: too_few | at_chance (no sign of learning) | wins (loss near 0) | weak (a gap
    under CLEAR_GAP) | separates; None when the logits are not logged."""

    rows: int = 0
    first_step: int | None = None
    last_step: int | None = None
    second_half_from: int | None = None
    disc_loss_median: float | None = None
    disc_loss_median_second_half: float | None = None
    logit_gap_median: float | None = None
    logit_gap_median_second_half: float | None = None
    logits_real_median_second_half: float | None = None
    logits_fake_median_second_half: float | None = None
    state: str | None = None


def judge(step: np.ndarray, in_gan: np.ndarray, loss: np.ndarray | None,
          real: np.ndarray | None, fake: np.ndarray | None) -> DiscriminatorFacts:
    """The facts of the VAE-GAN rows where all three terms are finite."""
    if loss is None or real is None or fake is None:
        return DiscriminatorFacts()
    rows = np.flatnonzero(in_gan & np.isfinite(loss) & np.isfinite(real) & np.isfinite(fake))
    if not len(rows):
        return DiscriminatorFacts()
    late = rows[len(rows) // 2:]
    med, med_late = float(np.median(loss[rows])), float(np.median(loss[late]))
    gap = float(np.median(real[rows] - fake[rows]))
    gap_late = float(np.median(real[late] - fake[late]))
    # at chance: hinge loss within 0.1 of 1 and logits that do not separate; or, over a long
    # phase (100+ records), within 0.05 of 1 with a small gap that does not widen
    flat = (abs(med - HINGE_UNTRAINED) <= 0.1 and abs(med_late - HINGE_UNTRAINED) <= 0.1
            and max(gap, gap_late) < 0.05)
    stuck = (len(rows) >= 100 and abs(med - HINGE_UNTRAINED) <= 0.05
             and abs(med_late - HINGE_UNTRAINED) <= 0.05 and max(gap, gap_late) < 0.15
             and gap_late <= gap + 0.02)
    if len(rows) < MIN_ROWS:
        state = "too_few"
    elif flat or stuck:
        state = "at_chance"
    elif med_late < WINS_LOSS:
        state = "wins"
    elif gap_late < CLEAR_GAP:
        state = "weak"
    else:
        state = "separates"
    return DiscriminatorFacts(
        rows=int(len(rows)), first_step=int(step[rows[0]]), last_step=int(step[rows[-1]]),
        second_half_from=int(step[late[0]]), disc_loss_median=med,
        disc_loss_median_second_half=med_late, logit_gap_median=gap,
        logit_gap_median_second_half=gap_late,
        logits_real_median_second_half=float(np.median(real[late])),
        logits_fake_median_second_half=float(np.median(fake[late])), state=state)
