"""RadioDiff's VAE-GAN objective (latent-diffusion's LPIPSWithDiscriminator), honest edition.

    rec  = |x - x_hat| + (x - x_hat)^2            (per pixel; RadioDiff's variant of L1)
    nll  = sum(rec / exp(logvar) + logvar) / B    (logvar: one learned scalar)
    kl   = sum(KL(q(z|x) || N(0, I))) / B
    g    = -mean(D(x_hat))
    d_weight = disc_weight * clamp(|grad_last nll| / (|grad_last g| + 1e-4), 0, 1e4)   (detached)
    loss_G = nll + kl_weight * kl + d_weight * disc_factor * g

Why d_weight sits at its cap on small maps: nll is a SUM over the C*H*W pixels (per sample), g a
MEAN over discriminator patches, so |grad nll| / |grad g| grows with the pixel count; with 1e4 as
the cap, a model whose per-pixel error gradient is more than ~1e4 / (C*H*W) of the GAN gradient
pins d_weight at disc_weight * 1e4 (5,000) and the GAN term is weaker than disc_weight x NLL.
``adaptive_weight="per_pixel"`` (radiovae's option) applies the cap to the ratio of the per-pixel
mean NLL's gradient instead: d_weight = disc_weight * C*H*W * clamp(ratio / (C*H*W), 0, 1e4).
Below the cap this is RadioDiff's d_weight exactly; the cap acts on the scale it was chosen for, so
d_weight adapts instead of pinning (the logged d_weight is still the multiplier of g_loss).
``d_weight_max`` is the cap (latent-diffusion's 1e4).
    loss_D = disc_factor * hinge(D(x), D(x_hat.detach()))       (or "vanilla": softplus)

``disc_factor`` is 0 for ``step < disc_start`` and ``disc_factor`` (1.0) from ``disc_start`` on,
exactly RadioDiff's ``adopt_weight``. Unlike RadioDiff, nothing of the GAN part is computed while
it is 0 (see :meth:`VAEGANLoss.generator_loss`).

``logvar`` must be optimised with the autoencoder: give ``loss.generator_parameters()`` to the
autoencoder's optimizer (RadioDiff leaves it out, so its logvar stays at 0 forever).

Perceptual term: latent-diffusion adds LPIPS (VGG16 features). Its weights cannot be downloaded
here, so the default ``perceptual_weight`` is 0. To use one, pass ``perceptual=`` a module mapping
``(x, x_hat)`` to per-sample distances of shape (B, 1, 1, 1); a weight > 0 without it is an error.
Note that RadioDiff's loss class defaults to ``perceptual_weight=1.0`` and its first_radio config
does not set it, so its published runs add LPIPS (on the 1-channel map, broadcast to 3 channels by
LPIPS's input scaling) to ``rec_loss``; radiovae's rec_loss is the pixel term alone.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from radiovae.errors import UserError
from radiovae.model.autoencoder import DiagonalGaussianDistribution
from radiovae.model.config import LossConfig
from radiovae.model.discriminator import NLayerDiscriminator


def adopt_weight(weight: float, global_step: int, threshold: int = 0, value: float = 0.0) -> float:
    """``value`` before ``threshold``, ``weight`` from it on (RadioDiff / taming's boundary)."""
    return value if global_step < threshold else weight


def hinge_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F.relu(1.0 - logits_real).mean() + F.relu(1.0 + logits_fake).mean())


def vanilla_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean())


D_LOSSES = {"hinge": hinge_d_loss, "vanilla": vanilla_d_loss}


class VAEGANLoss(nn.Module):
    """Learned-variance reconstruction NLL + KL + PatchGAN loss, set by a :class:`LossConfig`."""

    def __init__(self, config: LossConfig | None = None, perceptual: nn.Module | None = None,
                 **keys: Any):
        """``config``: the ``lossconfig`` section (default: :class:`LossConfig`'s defaults);
        ``keys``: any of its fields, over it (``VAEGANLoss(disc_start=5, disc_ndf=8)``)."""
        super().__init__()
        try:
            cfg = replace(config or LossConfig(), **keys)
        except TypeError as exc:
            raise UserError(f"lossconfig: {exc}") from None
        if cfg.disc_loss not in D_LOSSES:
            raise UserError(f"lossconfig.disc_loss must be 'hinge' or 'vanilla', not {cfg.disc_loss!r}")
        if cfg.adaptive_weight not in ("radiodiff", "per_pixel"):
            raise UserError("lossconfig.adaptive_weight must be 'radiodiff' or 'per_pixel', "
                            f"not {cfg.adaptive_weight!r}")
        if cfg.disc_conditional:
            raise UserError("lossconfig.disc_conditional = true is not supported (RadioDiff uses false)")
        if cfg.perceptual_weight > 0 and perceptual is None:
            raise UserError(
                f"lossconfig.perceptual_weight = {cfg.perceptual_weight} needs a perceptual network "
                "(LPIPS/VGG weights), and none can be downloaded here: set perceptual_weight: 0")
        self.disc_start = int(cfg.disc_start)
        self.kl_weight = cfg.kl_weight
        self.disc_weight = cfg.disc_weight
        self.disc_factor = cfg.disc_factor
        self.per_pixel = cfg.adaptive_weight == "per_pixel"
        self.d_weight_max = float(cfg.d_weight_max)
        self.pixel_weight = cfg.pixelloss_weight
        self.perceptual_weight = cfg.perceptual_weight
        self.perceptual = perceptual
        self.d_loss_fn = D_LOSSES[cfg.disc_loss]
        self.logvar = nn.Parameter(torch.full((), float(cfg.logvar_init)))
        self.discriminator = NLayerDiscriminator(cfg.disc_in_channels, cfg.disc_ndf,
                                                 cfg.disc_num_layers, cfg.use_actnorm)

    def generator_parameters(self) -> list[nn.Parameter]:
        """Parameters of the loss that train with the autoencoder's optimizer: ``[logvar]``."""
        return [self.logvar]

    def disc_factor_at(self, step: int) -> float:
        return adopt_weight(self.disc_factor, step, threshold=self.disc_start)

    def gan_active(self, step: int) -> bool:
        return self.disc_factor_at(step) > 0

    def nll_kl(self, x: torch.Tensor, x_hat: torch.Tensor,
               posterior: DiagonalGaussianDistribution
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(nll, kl, mean per-pixel rec), all in fp32 whatever the autocast dtype."""
        x, x_hat = x.float(), x_hat.float()
        diff = x - x_hat
        rec = self.pixel_weight * (diff.abs() + diff.square())
        if self.perceptual_weight > 0:
            rec = rec + self.perceptual_weight * self.perceptual(x, x_hat)
        nll = torch.sum(rec / torch.exp(self.logvar) + self.logvar) / x.shape[0]
        kl = posterior.kl().float().sum() / x.shape[0]
        return nll, kl, rec.detach().mean()

    def adaptive_weight(self, nll: torch.Tensor, g_loss: torch.Tensor, last_layer: torch.Tensor,
                        grad_scale: float = 1.0, pixels: int = 1) -> torch.Tensor:
        """disc_weight * pixels * clamp(|grad nll| / pixels / (|grad g| + 1e-4), 0, d_weight_max).

        ``pixels`` is 1 for RadioDiff's weight and C*H*W for the per-pixel one. Detached.

        ``grad_scale`` (an fp16 GradScaler's scale) keeps small half-precision gradients from
        underflowing; it is divided out before the norms are compared. If the scaled gradients
        overflow fp16, they are taken again at a 16x smaller scale (down to 1).
        """
        while True:
            nll_grad = torch.autograd.grad(nll * grad_scale, last_layer, retain_graph=True)[0]
            g_grad = torch.autograd.grad(g_loss * grad_scale, last_layer, retain_graph=True)[0]
            nll_norm = nll_grad.float().norm() / grad_scale
            g_norm = g_grad.float().norm() / grad_scale
            if grad_scale <= 1.0 or bool(torch.isfinite(nll_norm + g_norm)):
                break
            grad_scale = max(grad_scale / 16.0, 1.0)
        ratio = nll_norm / pixels / (g_norm + 1e-4)
        return ratio.clamp(0.0, self.d_weight_max).detach() * (pixels * self.disc_weight)

    def generator_loss(self, x: torch.Tensor, x_hat: torch.Tensor,
                       posterior: DiagonalGaussianDistribution, step: int,
                       last_layer: torch.Tensor | None = None, grad_scale: float = 1.0
                       ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Loss for the autoencoder (+ logvar) and its log, with RadioDiff's term names.

        Before ``disc_start`` the discriminator is not run and no adaptive-weight gradients are
        taken: their product with disc_factor = 0 is exactly 0. ``train/d_weight`` and
        ``train/g_loss`` are then recorded as 0 (not computed), where RadioDiff records values
        that had no effect on training.
        """
        nll, kl, rec = self.nll_kl(x, x_hat, posterior)
        loss = nll + self.kl_weight * kl
        disc_factor = self.disc_factor_at(step)
        zero = torch.zeros((), device=nll.device)
        d_weight = g_loss = zero
        if disc_factor > 0:
            # The discriminator's own weights get no gradient from the generator's loss.
            with _frozen(self.discriminator):
                g_loss = -self.discriminator(x_hat).float().mean()
            if last_layer is None:
                raise ValueError("generator_loss needs last_layer once the discriminator is on")
            pixels = x[0].numel() if self.per_pixel else 1
            d_weight = self.adaptive_weight(nll, g_loss, last_layer, grad_scale, pixels)
            loss = loss + d_weight * disc_factor * g_loss
        log = {
            "train/total_loss": loss.detach(), "train/logvar": self.logvar.detach(),
            "train/kl_loss": kl.detach(), "train/nll_loss": nll.detach(),
            "train/rec_loss": rec, "train/d_weight": d_weight.detach(),
            "train/disc_factor": torch.tensor(float(disc_factor)), "train/g_loss": g_loss.detach(),
        }
        return loss, log

    def discriminator_loss(self, x: torch.Tensor, x_hat: torch.Tensor, step: int
                           ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Discriminator loss on real ``x`` and a (detached) reconstruction."""
        logits_real = self.discriminator(x.detach()).float()
        logits_fake = self.discriminator(x_hat.detach()).float()
        d_loss = self.disc_factor_at(step) * self.d_loss_fn(logits_real, logits_fake)
        log = {"train/disc_loss": d_loss.detach(), "train/logits_real": logits_real.detach().mean(),
               "train/logits_fake": logits_fake.detach().mean()}
        return d_loss, log


class _frozen:
    """Context: a module's parameters do not require grad (inputs still get gradients)."""

    def __init__(self, module: nn.Module):
        self.params = [p for p in module.parameters() if p.requires_grad]

    def __enter__(self) -> None:
        for p in self.params:
            p.requires_grad_(False)

    def __exit__(self, *exc) -> None:
        for p in self.params:
            p.requires_grad_(True)
