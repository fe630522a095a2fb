"""The paper's metrics: known values and agreement with scikit-image."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from radiovae.metrics import image_metrics, mean_metrics, nmse, psnr, rmse, ssim


def smooth_batch(b: int, c: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Radio-map-like images in [0, 1]: smooth fields plus a little texture."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(b, c, h // 8, w // 8, generator=g, dtype=torch.float64)
    x = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    return (0.8 * x + 0.2 * torch.rand(b, c, h, w, generator=g, dtype=torch.float64)).clamp(0, 1)


def test_identical_images():
    x = smooth_batch(3, 1, 32, 32, 0)
    m = image_metrics(x, x.clone())
    assert torch.equal(m["nmse"], torch.zeros(3, dtype=torch.float64))
    assert torch.equal(m["rmse"], torch.zeros(3, dtype=torch.float64))
    assert torch.isinf(m["psnr"]).all() and (m["psnr"] > 0).all()
    assert torch.allclose(m["ssim"], torch.ones(3, dtype=torch.float64), atol=1e-12)


def test_constant_offset_exact_values():
    target = smooth_batch(2, 1, 24, 40, 1) * 0.9
    c = 0.05
    pred = target + c
    assert torch.allclose(rmse(pred, target), torch.full((2,), c, dtype=torch.float64))
    assert torch.allclose(psnr(pred, target), torch.full((2,), -20 * math.log10(c),
                                                         dtype=torch.float64))
    expected = c**2 * 24 * 40 / target.pow(2).flatten(1).sum(1)
    assert torch.allclose(nmse(pred, target), expected)
    # per image: a second image with twice the error has a 6.02 dB lower PSNR
    pred2 = torch.cat([target[:1] + c, target[1:] + 2 * c])
    p = psnr(pred2, target)
    assert p[0] - p[1] == pytest.approx(20 * math.log10(2), abs=1e-9)


def test_metrics_agree_with_scikit_image():
    target = smooth_batch(4, 1, 64, 48, 2)
    pred = (target + 0.08 * torch.randn(target.shape, generator=torch.Generator().manual_seed(3),
                                        dtype=torch.float64)).clamp(0, 1)
    ours_ssim, ours_psnr = ssim(pred, target), psnr(pred, target)
    for i in range(4):
        t, p = target[i, 0].numpy(), pred[i, 0].numpy()
        ref = structural_similarity(t, p, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=1.0)
        assert float(ours_ssim[i]) == pytest.approx(ref, abs=1e-6)
        assert float(ours_psnr[i]) == pytest.approx(peak_signal_noise_ratio(t, p, data_range=1.0),
                                                    abs=1e-6)
        ref_nmse = np.sum((p - t) ** 2) / np.sum(t**2)
        assert float(nmse(pred, target)[i]) == pytest.approx(ref_nmse, rel=1e-9)
    assert 0.2 < float(ours_ssim.mean()) < 0.95  # a real, non-trivial comparison


def test_multichannel_and_float32_inputs():
    target = smooth_batch(2, 3, 32, 32, 4).float()
    pred = (target * 0.9).float()
    s = ssim(pred, target)
    for i in range(2):
        per_channel = [structural_similarity(target[i, ch].double().numpy(),
                                             pred[i, ch].double().numpy(), gaussian_weights=True,
                                             sigma=1.5, use_sample_covariance=False,
                                             data_range=1.0) for ch in range(3)]
        assert float(s[i]) == pytest.approx(np.mean(per_channel), abs=1e-5)
    assert ssim(pred[:, 0], target[:, 0]).shape == (2,)  # (B, H, W) is accepted too


def test_mean_metrics_and_bad_shapes():
    x = smooth_batch(2, 1, 16, 16, 5)
    means = mean_metrics(image_metrics(x * 0.5, x))
    assert set(means) == {"nmse", "rmse", "ssim", "psnr"}
    assert means["nmse"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="differ"):
        nmse(x, x[:, :, :8])
    with pytest.raises(ValueError, match="at least 11"):
        ssim(x[:, :, :8, :8], x[:, :, :8, :8])
