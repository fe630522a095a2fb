"""What kind of training wrote a run's records: the one place that tells them apart.

``"vae"``: a first-stage KL-VAE / VAE-GAN (RadioDiff's ``train_vae.py``, radiovae's trainer,
latent-diffusion's ``LPIPSWithDiscriminator``): KL, reconstruction / NLL, logvar, the adaptive
``d_weight`` or discriminator terms. ``"ldm"``: a stage-2 latent diffusion run (RadioDiff's
``train_cond_ldm.py``, latent-diffusion's ``DDPM``): ``loss_simple`` / ``loss_vlb``.
``"unknown"``: records of neither; the analysis then speaks only of losses and the lr.

Metric names decide (prefixes such as ``train/`` or ``val/`` do not matter); when they say
nothing or both, the config does (a stage-2 config nests the first stage under
``model.first_stage`` and has a ``model.unet``; a first-stage config has ``model.lossconfig``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

KINDS = ("vae", "ldm", "unknown")

# terms only a first-stage autoencoder logs (bare names, prefix removed)
VAE_TERMS = frozenset({"kl_loss", "rec_loss", "nll_loss", "logvar", "d_weight", "disc_factor",
                       "g_loss", "disc_loss", "logits_real", "logits_fake"})
# terms only a diffusion model logs
LDM_TERMS = frozenset({"loss_simple", "loss_vlb"})


def bare_name(metric: str) -> str:
    """``train/kl_loss`` -> ``kl_loss``."""
    return metric.rsplit("/", 1)[-1].strip().lower()


def detect_kind(metrics: Iterable[str], config: dict[str, Any] | None = None) -> str:
    """``"vae"`` | ``"ldm"`` | ``"unknown"`` from the metric names, else from the raw config."""
    names = {bare_name(m) for m in metrics}
    vae, ldm = bool(names & VAE_TERMS), bool(names & LDM_TERMS)
    if vae != ldm:
        return "vae" if vae else "ldm"
    by_config = _kind_of_config(config)
    return by_config if by_config is not None else "unknown"


def _kind_of_config(config: dict[str, Any] | None) -> str | None:
    raw = config.get("raw", config) if isinstance(config, dict) else None
    model = raw.get("model") if isinstance(raw, dict) else None
    if not isinstance(model, dict):
        return None
    if any(k in model for k in ("first_stage", "first_stage_config", "unet", "unet_config")):
        return "ldm"
    if any(k in model for k in ("lossconfig", "ddconfig")):
        return "vae"
    return None
