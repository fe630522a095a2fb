"""VAEGANStep: phase 1 leaves the discriminator alone, one AE forward per micro-batch, true
gradient accumulation, logvar trains, non-finite losses step nothing."""

from __future__ import annotations

import copy

import pytest
import torch

from radiovae.model import AutoencoderKL, VAEGANLoss
from radiovae.train.step import VAEGANStep

TINY = {"resolution": 32, "ch": 16, "ch_mult": [1, 2], "num_res_blocks": 1, "z_channels": 3}
PHASE1 = {"train/total_loss", "train/logvar", "train/kl_loss", "train/nll_loss", "train/rec_loss",
          "train/d_weight", "train/disc_factor", "train/g_loss", "nonfinite"}
PHASE2 = PHASE1 | {"train/disc_loss", "train/logits_real", "train/logits_fake"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make(disc_start=3, lr=1e-3, seed=0, opt=torch.optim.AdamW, **step_kw):
    torch.manual_seed(seed)
    ae = AutoencoderKL(TINY, 3)
    loss = VAEGANLoss(disc_start=disc_start, kl_weight=1e-6)
    opt_ae = opt([*ae.parameters(), *loss.generator_parameters()], lr=lr)
    opt_disc = opt(loss.discriminator.parameters(), lr=lr)
    return VAEGANStep(ae, loss, opt_ae, opt_disc, **step_kw)


def batch(n=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 32, 32, generator=g) * 2 - 1


def test_phase1_never_touches_discriminator():
    step = make(disc_start=10)
    disc = step.loss.discriminator
    before = copy.deepcopy(disc.state_dict())

    def boom(*_):
        raise AssertionError("discriminator ran in phase 1")

    hook = disc.register_forward_pre_hook(boom)
    logvar0 = step.loss.logvar.item()
    for s in range(4):
        rec = step([batch()], s)
        assert set(rec) == PHASE1
        assert rec["train/disc_factor"] == 0 and rec["train/d_weight"] == 0 and rec["nonfinite"] == 0
    hook.remove()
    for k, v in disc.state_dict().items():
        assert torch.equal(v, before[k]), k  # weights and BatchNorm running stats
    assert all(p.grad is None for p in disc.parameters())
    assert not step.opt_disc.state  # AdamW never stepped (RadioDiff's decays D in phase 1)
    assert step.loss.logvar.item() != logvar0  # logvar really trains


def test_phase2_one_autoencoder_forward_per_micro_batch():
    step = make(disc_start=1)
    calls = {"enc": 0, "dec": 0, "disc": 0}
    step.autoencoder.encoder.register_forward_hook(lambda *_: calls.__setitem__("enc", calls["enc"] + 1))
    step.autoencoder.decoder.register_forward_hook(lambda *_: calls.__setitem__("dec", calls["dec"] + 1))
    step.loss.discriminator.register_forward_hook(
        lambda *_: calls.__setitem__("disc", calls["disc"] + 1))
    disc0 = copy.deepcopy(step.loss.discriminator.state_dict())
    x = batch(4)
    rec = step([x[:2], x[2:]], 1)
    assert calls == {"enc": 2, "dec": 2, "disc": 6}  # D: fake for G, then real + fake for D
    assert set(rec) == PHASE2 and rec["train/disc_factor"] == 1.0 and rec["nonfinite"] == 0
    assert rec["train/d_weight"] > 0
    assert any(not torch.equal(v, disc0[k]) for k, v in step.loss.discriminator.state_dict().items())
    # at the boundary: step disc_start - 1 is still phase 1
    step2 = make(disc_start=5)
    assert step2([x[:2]], 4)["train/disc_factor"] == 0.0
    assert step2([x[:2]], 5)["train/disc_factor"] == 1.0


def test_gradient_accumulation_equals_full_batch():
    x = batch(2)
    # SGD: AdamW's g / (|g| + eps) would blow float noise in ~0 gradients up to full steps
    kw = {"disc_start": 100, "opt": torch.optim.SGD, "lr": 1e-4, "grad_clip": None}
    full = make(**kw, generator=torch.Generator().manual_seed(7))
    acc = make(**kw, generator=torch.Generator().manual_seed(7))
    r_full = full([x], 0)
    r_acc = acc([x[:1], x[1:]], 0)
    for k in ("train/total_loss", "train/nll_loss", "train/kl_loss", "train/rec_loss"):
        assert r_acc[k] == pytest.approx(r_full[k], rel=1e-5), k
    g_full = torch.cat([p.grad.flatten() for p in full.autoencoder.parameters()])
    g_acc = torch.cat([p.grad.flatten() for p in acc.autoencoder.parameters()])
    assert ((g_full - g_acc).norm() / g_full.norm()).item() < 1e-5  # summation-order noise only
    for p, q in zip(full.autoencoder.parameters(), acc.autoencoder.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(full.loss.logvar, acc.loss.logvar)


@pytest.mark.parametrize("disc_start", [10, 0])
def test_nonfinite_loss_steps_nothing(disc_start):
    step = make(disc_start=disc_start)
    params0 = copy.deepcopy(step.autoencoder.state_dict())
    disc0 = copy.deepcopy(step.loss.discriminator.state_dict())
    x = batch(2)
    x[0, 0, 3, 3] = float("nan")
    rec = step([x], 0)
    assert rec["nonfinite"] == 1
    assert not step.opt_ae.state and not step.opt_disc.state
    for k, v in step.autoencoder.state_dict().items():
        assert torch.equal(v, params0[k]), k
    assert step.loss.logvar.item() == 0.0
    assert all(p.grad is None for p in step.autoencoder.parameters())
    if disc_start == 10:
        assert all(torch.equal(v, disc0[k]) for k, v in step.loss.discriminator.state_dict().items()
                   if "running" not in k and "num_batches" not in k)
    assert step([batch(2)], 1)["nonfinite"] == 0  # and training goes on


def test_gradients_are_clipped(monkeypatch):
    step = make(disc_start=0, grad_clip=1e-3)
    norms = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, **kw):
        n = real(params, max_norm, **kw)
        params = list(params)
        norms.append(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params])).item())
        return n

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    step([batch(2)], 0)
    assert len(norms) == 2 and all(n <= 1e-3 * 1.01 for n in norms)


def test_bf16_autocast_runs_on_cpu():
    step = make(disc_start=1, amp_dtype=torch.bfloat16)
    for s in range(2):
        rec = step([batch(2)], s)
        assert rec["nonfinite"] == 0 and all(v == v for v in rec.values())


def test_build_optimizers_trains_logvar_without_decay():
    from radiovae.train.step import build_optimizers

    torch.manual_seed(0)
    ae, loss = AutoencoderKL(TINY, 3), VAEGANLoss(disc_start=0)
    opt_ae, opt_disc = build_optimizers(ae, loss, lr=1e-4, weight_decay=0.01)
    in_ae = {id(p): g["weight_decay"] for g in opt_ae.param_groups for p in g["params"]}
    assert in_ae[id(loss.logvar)] == 0.0
    assert all(in_ae[id(p)] == 0.01 for p in ae.parameters())
    assert {id(p) for g in opt_disc.param_groups for p in g["params"]} == {
        id(p) for p in loss.discriminator.parameters()}
    assert not any(id(p) in in_ae for p in loss.discriminator.parameters())


def test_fp16_with_grad_scaler_keeps_d_weight_finite():
    step = make(disc_start=0, amp_dtype=torch.float16)
    assert isinstance(step.scaler, torch.amp.GradScaler)
    for s in range(2):  # the scaler starts at 2**16: fp16 overflows until it has backed off
        rec = step([batch(2)], s)
        assert rec["nonfinite"] == 0 and rec["train/d_weight"] == rec["train/d_weight"]
    assert rec["train/d_weight"] > 0 and step.scaler.get_scale() < 2.0**16
