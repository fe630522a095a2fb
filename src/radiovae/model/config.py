"""The model's config sections as typed dataclasses: the one place their defaults are written.

``ModelConfig`` is the training config's ``model`` section: ``DDConfig`` is latent-diffusion's /
RadioDiff's ``ddconfig`` (the autoencoder's shape), ``LossConfig`` its ``lossconfig`` (the VAE-GAN
objective), with RadioDiff's key names. radiovae's own code reads them as attributes; they also
read as mappings (``cfg["ch"]``, ``**cfg``) for scripts written against RadioDiff's dicts. This
module imports no torch: the training config (``radiovae.train.config``) builds on it without
loading the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any


class MappingMixin:
    """Dict-style access to a dataclass's fields (``cfg["key"]``, ``cfg.get``, ``**cfg``)."""

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self.keys():
            raise KeyError(key)
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def keys(self) -> list[str]:
        return [f.name for f in fields(self) if not f.name.startswith("_")]  # type: ignore[arg-type]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in self.keys()]

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.keys() else default

    def as_dict(self) -> dict[str, Any]:
        """Plain nested dicts and lists (for YAML, JSON and ``torch.save(weights_only)``)."""
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}  # type: ignore[call-overload]


@dataclass
class DDConfig(MappingMixin):
    """The autoencoder's architecture (``model.ddconfig``)."""

    double_z: bool = True
    z_channels: int = 3
    resolution: int | list[int] = 256   # int (latent-diffusion) or [H, W] (RadioDiff: [320, 320])
    in_channels: int = 1
    out_ch: int = 1
    ch: int = 128
    ch_mult: list[int] = field(default_factory=lambda: [1, 2, 4])   # len - 1 downsamplings
    num_res_blocks: int = 2
    attn_resolutions: list = field(default_factory=list)
    dropout: float = 0.0
    attn_type: str = "vanilla"     # latent-diffusion's: vanilla (self-attention) | none (identity)


@dataclass
class LossConfig(MappingMixin):
    """The VAE-GAN objective (``model.lossconfig``); see :class:`radiovae.model.VAEGANLoss`."""

    disc_start: int = 50001         # first step of phase 2 (VAE-GAN)
    kl_weight: float = 1e-6
    disc_weight: float = 0.5        # multiplies the adaptive d_weight
    disc_in_channels: int = 1
    disc_loss: str = "hinge"        # hinge | vanilla
    disc_factor: float = 1.0
    disc_num_layers: int = 3
    disc_ndf: int = 64
    perceptual_weight: float = 0.0  # RadioDiff's default is 1.0 (LPIPS); no VGG weights here
    pixelloss_weight: float = 1.0   # applied here; RadioDiff accepts the key and ignores it
    logvar_init: float = 0.0
    use_actnorm: bool = False
    disc_conditional: bool = False
    # Where the adaptive d_weight's cap applies (radiovae's key; RadioDiff has only the first):
    #   radiodiff  disc_weight * clamp(|grad nll| / |grad g|, 0, d_weight_max), nll summed over
    #              pixels: at a few thousand pixels the ratio passes the cap and d_weight pins there
    #   per_pixel  the cap applies to the ratio divided by C*H*W (the per-pixel NLL's, the scale
    #              the cap was made for): below it d_weight is RadioDiff's, and it adapts
    adaptive_weight: str = "radiodiff"
    d_weight_max: float = 1e4       # the clamp on the gradient ratio (latent-diffusion's 1e4)



@dataclass
class ModelConfig(MappingMixin):
    """The training config's ``model`` section: the architecture, the loss, initial weights."""

    embed_dim: int = 3
    lossconfig: LossConfig = field(default_factory=LossConfig)
    ddconfig: DDConfig = field(default_factory=DDConfig)
    ckpt_path: str | None = None     # initial weights (ours or RadioDiff's model-N.pt)
    ckpt_use_ema: bool = True        # RadioDiff's init_from_ckpt: the EMA weights, loss included
