"""VAEGANLoss: RadioDiff's terms, the disc_start boundary, the adaptive weight."""

from __future__ import annotations

import pytest
import torch

from radiovae.errors import UserError
from radiovae.model import AutoencoderKL, VAEGANLoss
from radiovae.model.loss import adopt_weight, hinge_d_loss, vanilla_d_loss

TINY = {"resolution": 32, "ch": 16, "ch_mult": [1, 2], "num_res_blocks": 1, "z_channels": 3}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_disc_factor_boundary():
    loss = VAEGANLoss(disc_start=50001)
    assert loss.disc_factor_at(0) == 0 and loss.disc_factor_at(50000) == 0
    assert loss.disc_factor_at(50001) == 1.0 and loss.disc_factor_at(150000) == 1.0
    assert adopt_weight(0.7, 9, threshold=10) == 0.0 and adopt_weight(0.7, 10, threshold=10) == 0.7


def test_terms_match_radiodiff_formulas():
    torch.manual_seed(0)
    ae = AutoencoderKL(TINY, 3)
    loss = VAEGANLoss(disc_start=1, kl_weight=1e-3, logvar_init=0.3)
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    rec, post = ae(x)
    total, log = loss.generator_loss(x, rec, post, step=0, last_layer=ae.get_last_layer())
    r = (x - rec).abs() + (x - rec) ** 2
    nll = (r / torch.exp(torch.tensor(0.3)) + 0.3).sum() / 2
    kl = post.kl().sum() / 2
    torch.testing.assert_close(log["train/nll_loss"], nll.detach())
    torch.testing.assert_close(log["train/rec_loss"], r.mean().detach())
    torch.testing.assert_close(total, nll + 1e-3 * kl)
    assert log["train/d_weight"] == 0 and log["train/g_loss"] == 0 and log["train/disc_factor"] == 0

    total, log = loss.generator_loss(x, rec, post, step=1, last_layer=ae.get_last_layer())
    last = ae.get_last_layer()
    g = -loss.discriminator(rec).mean()
    gn = torch.autograd.grad(nll, last, retain_graph=True)[0].norm()
    gg = torch.autograd.grad(g, last, retain_graph=True)[0].norm()
    d_weight = (gn / (gg + 1e-4)).clamp(0, 1e4) * 0.5
    torch.testing.assert_close(log["train/d_weight"], d_weight, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(total, nll + 1e-3 * kl + d_weight * g, rtol=1e-5, atol=1e-4)
    assert log["train/disc_factor"] == 1.0
    # the generator's loss gives the discriminator's weights no gradient
    total.backward()
    assert all(p.grad is None for p in loss.discriminator.parameters())
    # d nll / d logvar = sum(1 - r / exp(logvar)) / B; d_weight is a constant (detached)
    expected = (r.numel() - r.sum().detach() * torch.exp(torch.tensor(-0.3))) / 2
    torch.testing.assert_close(loss.logvar.grad, expected, rtol=1e-5, atol=1e-3)


def test_discriminator_losses():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.5])
    assert hinge_d_loss(real, fake).item() == pytest.approx(0.5 * (0.25 + 0.75))
    sp = torch.nn.functional.softplus
    assert vanilla_d_loss(real, fake).item() == pytest.approx(
        0.5 * (sp(-real).mean() + sp(fake).mean()).item())
    loss = VAEGANLoss(disc_start=0, disc_loss="vanilla")
    x = torch.randn(2, 1, 32, 32)
    d, log = loss.discriminator_loss(x, x.flip(0), step=0)
    assert set(log) == {"train/disc_loss", "train/logits_real", "train/logits_fake"}
    assert d.requires_grad


def test_bad_loss_config():
    with pytest.raises(UserError, match="perceptual"):
        VAEGANLoss(disc_start=0, perceptual_weight=1.0)
    with pytest.raises(UserError, match="disc_loss"):
        VAEGANLoss(disc_start=0, disc_loss="wgan")
    assert VAEGANLoss(disc_start=0).generator_parameters()[0].requires_grad
