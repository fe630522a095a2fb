"""RadioDiff's first-stage KL autoencoder (latent-diffusion's AutoencoderKL), written compactly.

Parameter names match RadioDiff's / latent-diffusion's (``encoder.down.0.block.0.norm1.weight``,
``decoder.mid.attn_1.q.weight``, ``quant_conv.weight``, ...) so their ``model-N.pt`` checkpoints
load unchanged. ``resolution`` may be an int or ``[H, W]`` (RadioDiff uses ``[320, 320]``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from radiovae.model.config import DDConfig


def Normalize(channels: int) -> nn.GroupNorm:
    """GroupNorm with latent-diffusion's 32 groups; fewer only for tiny test widths (< 32 channels)."""
    return nn.GroupNorm(num_groups=math.gcd(32, channels), num_channels=channels, eps=1e-6)


def _pair(resolution: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(resolution, int):
        return resolution, resolution
    h, w = resolution
    return int(h), int(w)


def _wants_attn(res: tuple[int, int], attn_resolutions: Sequence, resolution: int | Sequence[int],
                first_encoder_level: bool) -> bool:
    """Whether a level builds attention blocks, exactly as the reference code decides it.

    ``resolution`` an int (latent-diffusion): every level whose side is listed in
    ``attn_resolutions``. ``resolution`` a list (RadioDiff, encoder_decoder.py): RadioDiff tests
    ``curr_res in attn_resolutions`` where ``curr_res`` is the config's list at the encoder's
    first level but a tuple everywhere else (lines 407, 429, 499, 542), and a tuple never equals a
    YAML list; so attention is built only in ``encoder.down.0``, and only if the full
    ``[H, W]`` is listed. Reproduced here so that such checkpoints load with their own config.
    """
    if isinstance(resolution, int):
        return any(isinstance(a, int) and not isinstance(a, bool) and res == (a, a)
                   for a in attn_resolutions)
    if isinstance(resolution, tuple):   # from Python code: tuples compare equal at every level
        return any(isinstance(a, tuple) and a == res for a in attn_resolutions)
    return first_encoder_level and any(isinstance(a, list) and list(a) == list(resolution)
                                       for a in attn_resolutions)


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, dropout: float):
        super().__init__()
        self.norm1 = Normalize(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = Normalize(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        if in_channels != out_channels:  # latent-diffusion's 1x1 "network-in-network" shortcut
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        if hasattr(self, "nin_shortcut"):
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock(nn.Module):
    """Single-head spatial self-attention with 1x1-conv q, k, v (latent-diffusion's AttnBlock)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = Normalize(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        hn = self.norm(x)
        q, k, v = (t.reshape(b, 1, c, h * w).transpose(-1, -2) for t in (self.q(hn), self.k(hn), self.v(hn)))
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(c)) v
        return x + self.proj_out(out.transpose(-1, -2).reshape(b, c, h, w))


class Downsample(nn.Module):
    """Stride-2 3x3 conv with latent-diffusion's asymmetric (right/bottom) zero padding."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _level(blocks: list[nn.Module], attns: list[nn.Module]) -> nn.Module:
    level = nn.Module()
    level.block = nn.ModuleList(blocks)
    level.attn = nn.ModuleList(attns)
    return level


def make_attn(channels: int, attn_type: str) -> nn.Module:
    """latent-diffusion's ``make_attn``: self-attention, or none (no weights, as there)."""
    if attn_type == "none":
        return nn.Identity()
    if attn_type != "vanilla":
        raise ValueError(f"attn_type {attn_type!r}: vanilla or none")
    return AttnBlock(channels)


def _mid(channels: int, dropout: float, attn_type: str) -> nn.Module:
    mid = nn.Module()
    mid.block_1 = ResnetBlock(channels, channels, dropout)
    mid.attn_1 = make_attn(channels, attn_type)
    mid.block_2 = ResnetBlock(channels, channels, dropout)
    return mid


class Encoder(nn.Module):
    """x (B, in_channels, H, W) -> moments (B, 2*z_channels, H/f, W/f), f = 2**(len(ch_mult)-1)."""

    def __init__(self, *, ch: int, ch_mult: Sequence[int], num_res_blocks: int,
                 attn_resolutions: Sequence, dropout: float, in_channels: int,
                 resolution: int | Sequence[int], z_channels: int, double_z: bool,
                 attn_type: str, **_ignored):
        super().__init__()
        self.num_resolutions = len(ch_mult)
        self.num_res_blocks = num_res_blocks
        self.resolution = resolution
        self.conv_in = nn.Conv2d(in_channels, ch, 3, padding=1)
        res = _pair(resolution)
        block_in = ch
        self.down = nn.ModuleList()
        for i, mult in enumerate(ch_mult):
            blocks, attns = [], []
            for _ in range(num_res_blocks):
                blocks.append(ResnetBlock(block_in, ch * mult, dropout))
                block_in = ch * mult
                if _wants_attn(res, attn_resolutions, resolution, i == 0):
                    attns.append(make_attn(block_in, attn_type))
            level = _level(blocks, attns)
            if i != self.num_resolutions - 1:
                level.downsample = Downsample(block_in)
                res = (res[0] // 2, res[1] // 2)
            self.down.append(level)
        self.mid = _mid(block_in, dropout, attn_type)
        self.norm_out = Normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, 2 * z_channels if double_z else z_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for i, level in enumerate(self.down):
            for j, block in enumerate(level.block):
                h = block(h)
                if len(level.attn):
                    h = level.attn[j](h)
            if i != self.num_resolutions - 1:
                h = level.downsample(h)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """z (B, z_channels, H/f, W/f) -> image (B, out_ch, H, W)."""

    def __init__(self, *, ch: int, out_ch: int, ch_mult: Sequence[int], num_res_blocks: int,
                 attn_resolutions: Sequence, dropout: float, resolution: int | Sequence[int],
                 z_channels: int, attn_type: str, tanh_out: bool = False, **_ignored):
        super().__init__()
        self.num_resolutions = len(ch_mult)
        self.num_res_blocks = num_res_blocks
        self.resolution = resolution
        self.tanh_out = tanh_out
        f = 2 ** (self.num_resolutions - 1)
        res = (_pair(resolution)[0] // f, _pair(resolution)[1] // f)
        block_in = ch * ch_mult[-1]
        self.conv_in = nn.Conv2d(z_channels, block_in, 3, padding=1)
        self.mid = _mid(block_in, dropout, attn_type)
        levels = []
        for i in reversed(range(self.num_resolutions)):
            blocks, attns = [], []
            for _ in range(num_res_blocks + 1):
                blocks.append(ResnetBlock(block_in, ch * ch_mult[i], dropout))
                block_in = ch * ch_mult[i]
                if _wants_attn(res, attn_resolutions, resolution, False):
                    attns.append(make_attn(block_in, attn_type))
            level = _level(blocks, attns)
            if i != 0:
                level.upsample = Upsample(block_in)
                res = (res[0] * 2, res[1] * 2)
            levels.insert(0, level)  # index by resolution level, as latent-diffusion does
        self.up = nn.ModuleList(levels)
        self.norm_out = Normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, out_ch, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(z)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        for i in reversed(range(self.num_resolutions)):
            level = self.up[i]
            for j, block in enumerate(level.block):
                h = block(h)
                if len(level.attn):
                    h = level.attn[j](h)
            if i != 0:
                h = level.upsample(h)
        h = self.conv_out(F.silu(self.norm_out(h)))
        return torch.tanh(h) if self.tanh_out else h


class DiagonalGaussianDistribution:
    """q(z|x) = N(mean, exp(logvar)); ``moments`` holds mean and logvar stacked on dim 1."""

    def __init__(self, moments: torch.Tensor, deterministic: bool = False):
        self.mean, logvar = torch.chunk(moments, 2, dim=1)
        self.logvar = logvar.clamp(-30.0, 20.0)
        self.deterministic = deterministic
        self.std = torch.exp(0.5 * self.logvar)
        self.var = torch.exp(self.logvar)
        if deterministic:
            self.std = self.var = torch.zeros_like(self.mean)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(self.mean.shape, generator=generator, dtype=self.mean.dtype,
                            device=self.mean.device)
        return self.mean + self.std * noise

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self) -> torch.Tensor:
        """KL(q || N(0, I)) summed over latent dims, in fp32: one value per sample."""
        if self.deterministic:
            return torch.zeros(self.mean.shape[0], device=self.mean.device)
        mean, logvar = self.mean.float(), self.logvar.float()
        return 0.5 * torch.sum(mean.pow(2) + logvar.exp() - 1.0 - logvar, dim=[1, 2, 3])


class AutoencoderKL(nn.Module):
    """Encoder -> quant_conv -> q(z|x) -> post_quant_conv -> Decoder (RadioDiff's first stage).

    The loss (logvar, discriminator) lives in :class:`radiovae.model.VAEGANLoss`, not here, so a
    state dict of this module holds exactly the autoencoder.
    """

    def __init__(self, ddconfig: dict, embed_dim: int):
        super().__init__()
        ddconfig = {**DDConfig().as_dict(), **ddconfig}
        if not ddconfig["double_z"]:
            raise ValueError("AutoencoderKL needs ddconfig.double_z = true (mean and log-variance)")
        self.ddconfig = ddconfig
        self.embed_dim = embed_dim
        self.encoder = Encoder(**ddconfig)
        self.decoder = Decoder(**ddconfig)
        self.quant_conv = nn.Conv2d(2 * ddconfig["z_channels"], 2 * embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, ddconfig["z_channels"], 1)

    @property
    def config(self) -> dict:
        """What :func:`radiovae.model.load_autoencoder` needs to rebuild this module."""
        return {"embed_dim": self.embed_dim, "ddconfig": dict(self.ddconfig)}

    def encode(self, x: torch.Tensor) -> DiagonalGaussianDistribution:
        return DiagonalGaussianDistribution(self.quant_conv(self.encoder(x)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant_conv(z))

    def forward(self, x: torch.Tensor, sample_posterior: bool = True,
                generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, DiagonalGaussianDistribution]:
        posterior = self.encode(x)
        z = posterior.sample(generator) if sample_posterior else posterior.mode()
        return self.decode(z), posterior

    def get_last_layer(self) -> torch.Tensor:
        """The weight the adaptive GAN weight is measured on (the decoder's last conv)."""
        return self.decoder.conv_out.weight
