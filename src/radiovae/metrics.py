"""The RadioDiff paper's image metrics, batched, on radio maps scaled to [0, 1].

Every function takes ``pred`` and ``target`` of shape (B, C, H, W) (or (B, H, W)) and returns a
per-image tensor of shape (B,); average it for the data-set figure, as the paper does:

    NMSE = sum (pred - target)^2 / sum target^2           (per image)
    RMSE = sqrt(mean (pred - target)^2)
    SSIM = mean of the SSIM map, 11x11 Gaussian window sigma 1.5, K1 = 0.01, K2 = 0.03,
           data range 1, population (not sample) covariances, 'valid' window positions only
           (the same convention as scikit-image, which crops the 5-pixel border)
    PSNR = 10 log10(1 / MSE)                              (inf when pred == target)

Computed in float64 so that a few pixels of error on a 256x256 map are not lost to rounding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _as_batch(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    if pred.dim() == 3:
        pred, target = pred.unsqueeze(1), target.unsqueeze(1)
    if pred.dim() != 4:
        raise ValueError(f"expected (B, C, H, W) or (B, H, W), got {tuple(pred.shape)}")
    return pred.detach().double(), target.detach().double()


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    pred, target = _as_batch(pred, target)
    return (pred - target).pow(2).flatten(1).mean(1)


def nmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error normalised by the target's energy (inf for an all-zero target with error)."""
    pred, target = _as_batch(pred, target)
    return (pred - target).pow(2).flatten(1).sum(1) / target.pow(2).flatten(1).sum(1)


def rmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return mse(pred, target).sqrt()


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    return 10.0 * torch.log10(data_range**2 / mse(pred, target))


def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def ssim(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) with the Gaussian window, mean over the map."""
    pred, target = _as_batch(pred, target)
    b, c, h, w = pred.shape
    if min(h, w) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW}, got {h}x{w}")
    g = _gaussian_window(SSIM_WINDOW, SSIM_SIGMA).to(pred.device)
    gx, gy = g.view(1, 1, 1, -1), g.view(1, 1, -1, 1)

    def blur(x: torch.Tensor) -> torch.Tensor:  # separable Gaussian, valid positions only
        x = x.reshape(b * c, 1, *x.shape[-2:])
        return F.conv2d(F.conv2d(x, gx), gy)

    mu_x, mu_y = blur(pred), blur(target)
    var_x = blur(pred * pred) - mu_x**2
    var_y = blur(target * target) - mu_y**2
    cov = blur(pred * target) - mu_x * mu_y
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s.reshape(b, -1).mean(1)


def image_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """All four paper metrics per image: {"nmse", "rmse", "ssim", "psnr"} -> Tensor (B,)."""
    m = mse(pred, target)
    return {
        "nmse": nmse(pred, target),
        "rmse": m.sqrt(),
        "ssim": ssim(pred, target),
        "psnr": 10.0 * torch.log10(1.0 / m),
    }


def mean_metrics(per_image: dict[str, torch.Tensor]) -> dict[str, float]:
    """Data-set figures: the mean of each per-image metric (inf PSNR of perfect maps kept as inf)."""
    return {k: float(v.mean()) if v.numel() else math.nan for k, v in per_image.items()}
