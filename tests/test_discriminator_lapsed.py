"""A discriminator that learned for a while and fell back to chance is not one that never
learned: the phase medians are the same, the windows are not (analysis.discriminator.judge)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiovae.analysis import analyze
from radiovae.fmt import num
from radiovae.runlog.run import Run

N, ON = 300, 100           # records (10 steps apart); the VAE-GAN phase from record 100


def _run(gap: np.ndarray, noise: float = 0.01, seed: int = 0) -> Run:
    """A VAE-GAN run whose discriminator has the per-record logit gap ``gap`` (200 records):
    hinge logits +-gap/2, so disc_loss = max(0, 1 - gap/2)."""
    rng = np.random.default_rng(seed)
    step = np.arange(N) * 10
    on = step >= ON * 10
    g = np.full(N, np.nan)
    g[on] = gap + noise * rng.standard_normal(on.sum())
    rec = 0.05 * np.exp(-np.arange(N) / 60) + 0.005
    rec = rec * (1 + 0.01 * rng.standard_normal(N))
    table = pd.DataFrame({
        "step": step, "train/total_loss": 4096 * rec, "train/nll_loss": 4096 * rec,
        "train/rec_loss": rec, "train/kl_loss": 100 + np.arange(N, dtype=float),
        "train/disc_factor": on.astype(float), "train/g_loss": np.where(on, g / 2, 0.0),
        "train/d_weight": np.where(on, 1.0, 0.0), "train/disc_loss": np.maximum(0, 1 - g / 2),
        "train/logits_real": g / 2, "train/logits_fake": -g / 2, "lr": np.full(N, 1e-4)})
    return Run(table=table, config={"kl_weight": 1e-6, "disc_start": ON * 10,
                                    "total_steps": N * 10, "gradient_accumulate_every": 2})


def _gap(learned: slice, value: float = 0.5) -> np.ndarray:
    gap = np.zeros(N - ON)
    gap[learned] = value
    return gap


def _one(s, kind):
    found = [f for f in s.findings if f.id == kind]
    assert len(found) <= 1
    return found[0] if found else None


def test_learned_then_lost_is_lapsed_not_untrained():
    s = analyze(_run(_gap(slice(30, 70))))      # steps 1,300-1,690 separate, then chance
    d = s.discriminator
    assert d.state == "lapsed"
    assert d.window_records == 20                # a tenth of 200 records
    assert 1300 <= d.peak_from and d.peak_to <= 1690
    assert d.peak_gap_median == pytest.approx(0.5, abs=0.02)
    assert d.peak_disc_loss_median == pytest.approx(0.75, abs=0.01)
    assert abs(d.logit_gap_median_second_half) < 0.02
    assert _one(s, "discriminator_untrained") is None
    f = _one(s, "discriminator_lapsed")
    assert f.severity == "info" and f.span == (d.peak_from, d.peak_to)
    # the message states the window and the phase medians it is judged by, as in the facts
    assert f"steps {d.peak_from:,}-{d.peak_to:,}" in f.message
    assert (f"reconstructed maps was {num(d.peak_gap_median)} and its disc_loss "
            f"{num(d.peak_disc_loss_median)}") in f.message
    assert (f"second half {num(d.logit_gap_median_second_half)} and "
            f"{num(d.disc_loss_median_second_half)}") in f.message
    assert f"from step {d.end_from:,}) a gap of {num(d.end_gap_median)}" in f.message
    assert "separates them again" not in f.message      # the last window is at chance
    assert f.evidence["d_weight_median_vae_gan"] == 1.0 and "median of 1 over" in f.message
    assert "opt_disc" not in (f.recommendation or "")   # untrained's advice does not apply
    working = s.answer("discriminator_working")
    assert working.answer == "unclear" and working.text.startswith("Partly")
    assert working.findings == ["discriminator_lapsed"]
    learning = next(a for a in s.concerns if a.id == "learning")
    assert learning.answer == "unclear" and learning.text.startswith("Partly")
    assert f"{d.peak_from:,}-{d.peak_to:,}" in learning.text
    assert s.verdict == "healthy"                # info: no alarm for a discriminator that learned


def test_separating_again_at_the_end_is_said():
    gap = _gap(slice(30, 60))
    gap[-20:] = 0.3                              # the last window separates again, less widely
    s = analyze(_run(gap))
    d = s.discriminator
    f = _one(s, "discriminator_lapsed")
    assert d.state == "lapsed" and d.end_gap_median == pytest.approx(0.3, abs=0.02)
    assert f"from step {d.end_from:,}" in f.message and "At the end it separates them again" in f.message


@pytest.mark.parametrize("seed", range(5))
def test_noise_at_chance_stays_untrained(seed):
    """Per-record noise of 0.05 around a zero gap: no window reaches LEARNED_GAP."""
    s = analyze(_run(np.zeros(N - ON), noise=0.05, seed=seed))
    assert s.discriminator.state == "at_chance"
    assert s.discriminator.peak_gap_median < 0.1
    assert _one(s, "discriminator_lapsed") is None
    assert _one(s, "discriminator_untrained").severity == "warning"
    assert s.answer("discriminator_working").answer == "no"


def test_a_short_blip_is_not_learning():
    """Five records of a wide gap (under half a window) do not move a window's median."""
    s = analyze(_run(_gap(slice(50, 55), 1.0)))
    assert s.discriminator.state == "at_chance"


def test_a_window_where_it_won_outright_is_said_beside_the_second_half():
    gap = np.full(N - ON, 1.2)
    gap[40:70] = 6.0                             # logits +-3: hinge loss 0, it wins outright
    s = analyze(_run(gap))
    d = s.discriminator
    assert d.state == "separates" and d.peak_disc_loss_median == pytest.approx(0.0, abs=0.01)
    text = s.answer("discriminator_working").text
    assert f"won outright for a while: over steps {d.peak_from:,}-{d.peak_to:,}" in text
    assert "without winning outright at the end" in text
