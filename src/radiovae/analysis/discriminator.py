"""The discriminator judged once, from its own terms (disc_loss, logits_real, logits_fake) over
the VAE-GAN records: the ``discriminator_untrained`` finding, the "Is the discriminator working?"
answer and the report's discriminator section all read :class:`DiscriminatorFacts`, so no
answer can grade the discriminator by another rule than the finding's.

Medians, not means (a few wild logits move a mean), over all the VAE-GAN records and over their
second half (where the discriminator ends up); and over a sliding window of a tenth of them (at
least WINDOW_MIN records), so that a discriminator that separated the maps for a while and then
fell back to chance is told from one that never learned: the phase medians alone say "at
chance" for both.
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
WINDOW_MIN = 10         # records in the sliding window (or a tenth of the phase, if more)
# a window's median gap this wide (hinge loss ~0.93) is learning: at chance, a window's median
# gap stays within a few hundredths of 0
LEARNED_GAP = 0.15


@dataclass
class DiscriminatorFacts:
    """``state``: too_few | at_chance (no sign of learning, in any window) | lapsed (a window
    separated the maps, with a median gap of LEARNED_GAP or more, but the phase and its second
    half are at chance) | wins (loss near 0) | weak (a gap under CLEAR_GAP) | separates; None when
    the logits are not logged. ``peak_*``: the window of ``window_records`` records with the
    widest median gap; ``end_*``: the last window."""

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
    window_records: int | None = None
    peak_gap_median: float | None = None
    peak_disc_loss_median: float | None = None
    peak_from: int | None = None
    peak_to: int | None = None
    end_gap_median: float | None = None
    end_from: int | None = None
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
    win = _windows(step, rows, loss, real - fake)
    if len(rows) < MIN_ROWS:
        state = "too_few"
    elif (flat or stuck) and win.get("peak_gap_median", 0.0) >= LEARNED_GAP:
        state = "lapsed"
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
        logits_fake_median_second_half=float(np.median(fake[late])), **win, state=state)


def _windows(step: np.ndarray, rows: np.ndarray, loss: np.ndarray,
             gap: np.ndarray) -> dict[str, float | int]:
    """The widest window (by median gap) and the last one; empty when the phase is too short."""
    w = max(WINDOW_MIN, len(rows) // 10)
    if len(rows) < max(MIN_ROWS, w):
        return {}
    gaps = np.median(np.lib.stride_tricks.sliding_window_view(gap[rows], w), axis=1)
    losses = np.median(np.lib.stride_tricks.sliding_window_view(loss[rows], w), axis=1)
    i = int(np.argmax(gaps))
    return {"window_records": w, "peak_gap_median": float(gaps[i]),
            "peak_disc_loss_median": float(losses[i]), "peak_from": int(step[rows[i]]),
            "peak_to": int(step[rows[i + w - 1]]), "end_gap_median": float(gaps[-1]),
            "end_from": int(step[rows[-w]])}
