"""RadioDiff's first-stage model: KL autoencoder, PatchGAN discriminator, VAE-GAN loss, checkpoints."""

from radiovae.model.autoencoder import AutoencoderKL, Decoder, DiagonalGaussianDistribution, Encoder
from radiovae.model.checkpoint import load_autoencoder, load_checkpoint, save_checkpoint
from radiovae.model.discriminator import NLayerDiscriminator
from radiovae.model.loss import VAEGANLoss

__all__ = [
    "AutoencoderKL", "Encoder", "Decoder", "DiagonalGaussianDistribution", "NLayerDiscriminator",
    "VAEGANLoss", "load_autoencoder", "save_checkpoint", "load_checkpoint",
]
