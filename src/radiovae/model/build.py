"""The modules a ``model`` config section describes: the autoencoder and its VAE-GAN loss."""

from __future__ import annotations

from radiovae.model.autoencoder import AutoencoderKL
from radiovae.model.config import ModelConfig
from radiovae.model.loss import VAEGANLoss


def build_model(cfg: ModelConfig) -> tuple[AutoencoderKL, VAEGANLoss]:
    """(autoencoder, loss) as the trainer builds them, in the RNG order it draws their weights."""
    return AutoencoderKL(cfg.ddconfig.as_dict(), cfg.embed_dim), VAEGANLoss(cfg.lossconfig)
