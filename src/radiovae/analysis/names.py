"""Which column plays which role. Sources name terms differently (RadioDiff's text log says
``train/rec_loss``, its TensorBoard says ``rec_loss``); the analysis asks by role."""

from __future__ import annotations

from collections.abc import Iterable

ROLES: dict[str, tuple[str, ...]] = {
    # aeloss / discloss: what latent-diffusion's and taming's Lightning modules log besides
    # the loss's own dict (the same values as total_loss / disc_loss)
    "total": ("train/total_loss", "total_loss", "train/loss", "loss", "train/aeloss", "aeloss"),
    "logvar": ("train/logvar", "logvar"),
    "kl": ("train/kl_loss", "kl_loss"),
    "nll": ("train/nll_loss", "nll_loss"),
    "rec": ("train/rec_loss", "rec_loss"),
    "d_weight": ("train/d_weight", "d_weight"),
    "disc_factor": ("train/disc_factor", "disc_factor"),
    "g_loss": ("train/g_loss", "g_loss"),
    # lr-Adam: Lightning's LearningRateMonitor (the generator's optimizer comes first)
    "lr": ("lr", "Learning_Rate", "learning_rate", "train/lr", "lr-Adam", "lr-AdamW"),
    "disc_loss": ("train/disc_loss", "disc_loss", "train/discloss", "discloss"),
    "logits_real": ("train/logits_real", "logits_real"),
    "logits_fake": ("train/logits_fake", "logits_fake"),
    # stage 2 (RadioDiff's train_cond_ldm.py): the diffusion loss and its optional VLB term
    "loss_simple": ("train/loss_simple", "loss_simple"),
    "loss_vlb": ("train/loss_vlb", "loss_vlb"),
}
# terms of the adversarial game: they move by design (and d_weight / disc_factor are switches),
# so spikes, divergence and plateaus are not judged on them
ADVERSARIAL = ("d_weight", "disc_factor", "g_loss", "disc_loss", "logits_real", "logits_fake", "lr")


def find(columns: Iterable[str], role: str) -> str | None:
    """The column that plays ``role``, or None."""
    cols = set(columns)
    return next((name for name in ROLES[role] if name in cols), None)


def role_of(column: str) -> str | None:
    return next((role for role, names in ROLES.items() if column in names), None)


def watched(columns: Iterable[str]) -> list[str]:
    """Reconstruction-side losses: expected to fall smoothly (adversarial terms are not)."""
    out = []
    for name in columns:
        if name in ("step", "time"):
            continue
        role = role_of(name)
        if role in ("rec", "nll", "kl", "loss_simple", "loss_vlb") or (role is None and "loss" in name.lower()
                                             and not any(a in name for a in ADVERSARIAL)):
            out.append(name)
    return out
