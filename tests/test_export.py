"""Checkpoints both ways: ``radiovae export --format radiodiff`` loads in RadioDiff's strict
Trainer.load and its stage-2 loader; a RadioDiff model-N.pt loads strictly here.

RadioDiff's key layout is built from our modules: its AutoencoderKL holds encoder, decoder, three
loss modules (each with ``perceptual_loss`` (LPIPS), ``logvar`` and a ``discriminator``) and the
quant convs; its EMA is a module with ``online_model``, ``ema_model`` and the buffers ``initted``
(float, [1]) and ``step`` (long, [1]). LPIPS is a small stand-in with LPIPS's module names.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from radiovae.model import (
    AutoencoderKL,
    NLayerDiscriminator,
    build_model,
    init_from_checkpoint,
    load_autoencoder,
    save_checkpoint,
)
from radiovae.train import trainer as T
from radiovae.train.export import export_radiodiff

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {
    "model": {"embed_dim": 2,
              "lossconfig": {"disc_start": 1, "disc_num_layers": 2, "disc_ndf": 8},
              "ddconfig": {"ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1, "z_channels": 2,
                           "resolution": 32}},
    "data": {"name": "synthetic", "size": 32, "num_maps": 2, "tx_per_map": 1, "eval_num_maps": 1,
             "batch_size": 2},
    "trainer": {"lr": 1e-3, "min_lr": 1e-4, "train_num_steps": 2, "save_and_sample_every": 2,
                "log_freq": 1, "num_samples": 1},
}


class FakeLPIPS(nn.Module):
    """LPIPS's module names (scaling_layer buffers, net.sliceN, linN.model.1), tiny shapes."""

    def __init__(self):
        super().__init__()
        self.scaling_layer = nn.Module()
        self.scaling_layer.register_buffer("shift", torch.randn(1, 3, 1, 1))
        self.scaling_layer.register_buffer("scale", torch.rand(1, 3, 1, 1))
        self.net = nn.Module()
        self.net.slice1 = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
        self.lin0 = nn.Module()
        self.lin0.model = nn.Sequential(nn.Dropout(), nn.Conv2d(4, 1, 1, bias=False))


class RadioDiffLoss(nn.Module):
    def __init__(self, ndf, layers):
        super().__init__()
        self.perceptual_loss = FakeLPIPS()
        self.logvar = nn.Parameter(torch.zeros(()))
        self.discriminator = NLayerDiscriminator(1, ndf, layers, False)


class RadioDiffAE(nn.Module):
    """RadioDiff's AutoencoderKL's state-dict layout, from our modules."""

    def __init__(self, dd, embed_dim, ndf=8, layers=2):
        super().__init__()
        ours = AutoencoderKL(dd, embed_dim)
        self.encoder, self.decoder = ours.encoder, ours.decoder
        self.loss, self.loss_pinn, self.loss_pinn_dpm2irt4 = (RadioDiffLoss(ndf, layers)
                                                              for _ in range(3))
        self.quant_conv, self.post_quant_conv = ours.quant_conv, ours.post_quant_conv


class RadioDiffEMA(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.online_model = model
        self.ema_model = copy.deepcopy(model)
        self.register_buffer("initted", torch.Tensor([False]))
        self.register_buffer("step", torch.tensor([0]))


def _ae_params(m):
    return [*m.encoder.parameters(), *m.decoder.parameters(), *m.quant_conv.parameters(),
            *m.post_quant_conv.parameters()]


def radiodiff_trainer(dd, embed_dim):
    """What RadioDiff's Trainer builds (train_vae.py lines 126-139)."""
    model = RadioDiffAE(dd, embed_dim)
    opt_ae = torch.optim.AdamW(_ae_params(model), lr=1e-3)
    opt_disc = torch.optim.AdamW(model.loss.discriminator.parameters(), lr=1e-3)
    lam = lambda s: max((1 - s / 2) ** 0.95, 0.1)   # noqa: E731
    sched_ae = torch.optim.lr_scheduler.LambdaLR(opt_ae, lam)
    sched_disc = torch.optim.lr_scheduler.LambdaLR(opt_disc, lam)
    return model, opt_ae, opt_disc, sched_ae, sched_disc, RadioDiffEMA(model)


def radiodiff_load(path, dd, embed_dim):
    """RadioDiff's Trainer.load (train_vae.py lines 178-196): strict everywhere."""
    model, opt_ae, opt_disc, sched_ae, sched_disc, ema = radiodiff_trainer(dd, embed_dim)
    data = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(data["model"])
    opt_ae.load_state_dict(data["opt_ae"])
    sched_ae.load_state_dict(data["lr_scheduler_ae"])
    opt_disc.load_state_dict(data["opt_disc"])
    sched_disc.load_state_dict(data["lr_scheduler_disc"])
    ema.load_state_dict(data["ema"])
    return data["step"], model, ema, opt_ae


def radiodiff_init_from_ckpt(path, dd, embed_dim):
    """encoder_decoder.py init_from_ckpt (lines 925-952): EMA weights, non-strict."""
    model = RadioDiffAE(dd, embed_dim)
    sd = torch.load(path, map_location="cpu", weights_only=True)["ema"]
    sd = {k[10:]: v for k, v in sd.items() if k.startswith("ema_model.")}
    return model, model.load_state_dict(sd, strict=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    T.train(copy.deepcopy(TINY), run, progress=False)
    return run


def test_export_loads_in_radiodiffs_strict_trainer_and_stage2(run, tmp_path):
    dd, ed = TINY["model"]["ddconfig"], TINY["model"]["embed_dim"]
    # any RadioDiff model-N.pt provides the LPIPS (and unused loss_pinn*) weights
    theirs_model = RadioDiffAE(dd, ed)
    save_checkpoint(tmp_path / "theirs.pt", {"model": theirs_model.state_dict()})
    path, note = export_radiodiff(run, tmp_path / "out", perceptual_from=tmp_path / "theirs.pt")
    assert path.name == "model-1.pt" and "resume_milestone: 1" in note   # step 2, every 2

    step, model, ema, opt_ae = radiodiff_load(path, dd, ed)
    ours = torch.load(run / "checkpoints" / "model-2.pt", weights_only=True)
    assert step == 2
    assert torch.equal(model.decoder.conv_out.weight, ours["model"]["decoder.conv_out.weight"])
    assert torch.equal(model.loss.logvar, ours["model"]["loss.logvar"])
    assert torch.equal(model.loss.perceptual_loss.net.slice1[0].weight,
                       theirs_model.loss.perceptual_loss.net.slice1[0].weight)
    assert torch.equal(ema.ema_model.encoder.conv_in.weight,
                       ours["ema"]["ema_model.encoder.conv_in.weight"])
    assert torch.equal(ema.ema_model.loss.logvar, ours["ema"]["ema_model.loss.logvar"])
    assert len(opt_ae.state) == len(_ae_params(model))       # Adam moments, AE params only

    stage2, msg = radiodiff_init_from_ckpt(path, dd, ed)
    assert not msg.unexpected_keys and not msg.missing_keys
    assert torch.equal(stage2.decoder.conv_out.weight,
                       ours["ema"]["ema_model.decoder.conv_out.weight"])

    # without LPIPS weights: stage 2 still loads every autoencoder tensor, the note says why not more
    bare, note = export_radiodiff(run, tmp_path / "bare.pt")
    assert "--perceptual-from" in note and "strict" in note
    stage2, msg = radiodiff_init_from_ckpt(bare, dd, ed)
    assert msg.missing_keys and all(".perceptual_loss." in k for k in msg.missing_keys)
    with pytest.raises(RuntimeError, match="perceptual_loss"):
        radiodiff_load(bare, dd, ed)


def test_radiodiff_checkpoint_loads_strictly_here(tmp_path):
    """The other way: RadioDiff's Trainer.save output -> our loader and ckpt_path."""
    dd, ed = TINY["model"]["ddconfig"], TINY["model"]["embed_dim"]
    model, opt_ae, opt_disc, sched_ae, sched_disc, ema = radiodiff_trainer(dd, ed)
    with torch.no_grad():
        for p in ema.ema_model.parameters():
            p.add_(0.5)
    save_checkpoint(tmp_path / "model-7.pt", {
        "step": 35000, "model": model.state_dict(), "opt_ae": opt_ae.state_dict(),
        "lr_scheduler_ae": sched_ae.state_dict(), "opt_disc": opt_disc.state_dict(),
        "lr_scheduler_disc": sched_disc.state_dict(), "ema": ema.state_dict(), "scaler": None})
    ae = load_autoencoder(tmp_path / "model-7.pt", config={"embed_dim": ed, "ddconfig": dd})
    assert torch.equal(ae.decoder.conv_out.weight, ema.ema_model.decoder.conv_out.weight)
    online = load_autoencoder(tmp_path / "model-7.pt", ema=False)     # architecture inferred
    assert torch.equal(online.encoder.conv_in.weight, model.encoder.conv_in.weight)
    cfg = copy.deepcopy(TINY)
    cfg["model"]["ckpt_path"] = str(tmp_path / "model-7.pt")
    aek, loss = build_model(T.resolve_config(cfg).model)
    line = init_from_checkpoint(cfg["model"]["ckpt_path"], aek, loss, True)
    assert "EMA" in line and "loss (logvar, discriminator) too" in line
    assert torch.equal(loss.discriminator.main[0].weight,
                       ema.ema_model.loss.discriminator.main[0].weight)
