"""RadioDiff's first-stage model: KL autoencoder, PatchGAN discriminator, VAE-GAN loss, checkpoints.

Names are imported on first use (PEP 562), so ``radiovae.model.config`` (the config dataclasses)
can be read without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "AutoencoderKL": "autoencoder", "Encoder": "autoencoder", "Decoder": "autoencoder",
    "DiagonalGaussianDistribution": "autoencoder", "NLayerDiscriminator": "discriminator",
    "VAEGANLoss": "loss", "load_autoencoder": "checkpoint", "save_checkpoint": "checkpoint",
    "DamagedCheckpoint": "checkpoint", "payload_digest": "checkpoint",
    "load_checkpoint": "checkpoint", "init_from_checkpoint": "checkpoint", "DDConfig": "config",
    "LossConfig": "config", "ModelConfig": "config", "build_model": "build",
}

__all__ = list(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module 'radiovae.model' has no attribute {name!r}")
    return getattr(importlib.import_module(f"radiovae.model.{_NAMES[name]}"), name)
