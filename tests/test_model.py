"""AutoencoderKL: shapes, RadioDiff's parameter names, checkpoints (ours, RadioDiff's, hostile)."""

from __future__ import annotations

import builtins

import pytest
import torch

from radiovae.errors import UserError
from radiovae.model import (
    AutoencoderKL,
    NLayerDiscriminator,
    VAEGANLoss,
    load_autoencoder,
    load_checkpoint,
    save_checkpoint,
)
from radiovae.model.checkpoint import infer_config

TINY = {"resolution": 32, "ch": 16, "ch_mult": [1, 2], "num_res_blocks": 1, "z_channels": 3,
        "in_channels": 1, "out_ch": 1, "attn_resolutions": [16]}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(**kw) -> AutoencoderKL:
    torch.manual_seed(0)
    return AutoencoderKL({**TINY, **kw}, embed_dim=3)


def test_shapes_square_and_rectangular():
    ae = tiny()
    x = torch.randn(2, 1, 32, 32)
    post = ae.encode(x)
    assert post.mean.shape == (2, 3, 16, 16) and post.sample().shape == (2, 3, 16, 16)
    rec, _ = ae(x)
    assert rec.shape == x.shape
    assert post.kl().shape == (2,)
    ae = tiny(resolution=[32, 48], attn_resolutions=[[32, 48]])   # RadioDiff: encoder.down.0 only
    rec, post = ae(torch.randn(1, 1, 32, 48), sample_posterior=False)
    assert rec.shape == (1, 1, 32, 48) and post.mode().shape == (1, 3, 16, 24)
    assert {k.split(".attn.")[0] for k in ae.state_dict() if ".attn." in k} == {"encoder.down.0"}
    assert ae.get_last_layer() is ae.decoder.conv_out.weight


def test_parameter_names_match_radiodiff():
    keys = set(tiny().state_dict())
    expected = {
        "encoder.conv_in.weight", "encoder.down.0.block.0.norm1.weight",
        "encoder.down.0.block.0.conv2.bias", "encoder.down.0.downsample.conv.weight",
        "encoder.down.1.block.0.nin_shortcut.weight", "encoder.down.1.attn.0.q.weight",
        "encoder.mid.block_1.norm2.weight", "encoder.mid.attn_1.proj_out.weight",
        "encoder.mid.block_2.conv1.weight", "encoder.norm_out.weight", "encoder.conv_out.weight",
        "quant_conv.weight", "post_quant_conv.bias", "decoder.conv_in.weight",
        "decoder.mid.attn_1.k.bias", "decoder.up.1.upsample.conv.weight",
        "decoder.up.1.attn.1.v.weight", "decoder.up.0.block.0.nin_shortcut.weight",
        "decoder.up.0.block.1.norm1.bias", "decoder.norm_out.bias", "decoder.conv_out.weight",
    }
    assert expected <= keys, expected - keys
    assert all(k.split(".")[0] in {"encoder", "decoder", "quant_conv", "post_quant_conv"}
               for k in keys)
    assert not any("downsample" in k for k in keys if k.startswith("encoder.down.1."))
    assert not any(k.startswith("decoder.up.0.upsample") for k in keys)
    d = set(NLayerDiscriminator(1, 64, 3, False).state_dict())   # taming's defaults
    assert {"main.0.weight", "main.2.weight", "main.3.running_mean", "main.11.weight"} <= d


def radiodiff_checkpoint(ae: AutoencoderKL, ema_offset: float = 1.0) -> dict:
    """A dict laid out like RadioDiff's train_vae.py save(), built from our modules."""
    loss = VAEGANLoss(disc_start=5, disc_ndf=8)  # small D: the test is about the key layout
    model_sd = {**ae.state_dict(), **{f"loss.{k}": v for k, v in loss.state_dict().items()},
                **{f"loss_pinn.{k}": v for k, v in loss.state_dict().items()}}
    ema_sd = {f"ema_model.{k}": (v + ema_offset if v.is_floating_point() else v)
              for k, v in model_sd.items()}
    ema_sd.update({f"online_model.{k}": v for k, v in model_sd.items()})
    ema_sd.update({"initted": torch.tensor([1.0]), "step": torch.tensor([40])})
    opt_ae = torch.optim.AdamW(ae.parameters(), lr=5e-6)
    opt_disc = torch.optim.AdamW(loss.discriminator.parameters(), lr=5e-6)
    sched = torch.optim.lr_scheduler.LambdaLR(opt_ae, lambda it: max((1 - it / 10) ** 0.95, 0.1))
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_disc, lambda it: 1.0)
    return {"step": 40, "model": model_sd, "opt_ae": opt_ae.state_dict(),
            "lr_scheduler_ae": sched.state_dict(), "opt_disc": opt_disc.state_dict(),
            "lr_scheduler_disc": sched_d.state_dict(), "ema": ema_sd, "scaler": None}


def test_radiodiff_checkpoint_loads_with_and_without_ema(tmp_path):
    ae = tiny()
    path = tmp_path / "model-8.pt"
    torch.save(radiodiff_checkpoint(ae), path)  # as RadioDiff writes it (plain torch.save)
    online = load_autoencoder(path, ema=False)
    ema = load_autoencoder(path)
    w = ae.state_dict()["decoder.conv_out.weight"]
    assert torch.equal(online.state_dict()["decoder.conv_out.weight"], w)
    assert torch.allclose(ema.state_dict()["decoder.conv_out.weight"], w + 1.0)
    assert online.config["ddconfig"]["ch_mult"] == [1, 2]
    assert online.config["ddconfig"]["attn_resolutions"]  # attention found from the weights
    x = torch.randn(1, 1, 32, 32)
    torch.testing.assert_close(online(x, sample_posterior=False)[0],
                               ae.eval()(x, sample_posterior=False)[0])


def test_our_checkpoint_with_config_and_inference(tmp_path):
    ae = tiny(resolution=[32, 32], attn_resolutions=[])
    cfg = {"model": {"embed_dim": 3, "ddconfig": ae.ddconfig}}
    path = save_checkpoint(tmp_path / "checkpoints" / "model-2.pt",
                           {"step": 2, "model": ae.state_dict(), "config": cfg})
    loaded = load_autoencoder(path, ema=True)  # no EMA inside: falls back to the model weights
    assert loaded.ddconfig["resolution"] == [32, 32]
    assert infer_config(ae.state_dict())["ddconfig"]["ch"] == 16
    with pytest.raises(UserError, match="do not match"):
        load_autoencoder(path, config={"embed_dim": 4, "ddconfig": ae.ddconfig})


def test_bad_checkpoints_are_refused(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint\n" * 10)
    with pytest.raises(UserError, match="not a readable PyTorch checkpoint"):
        load_autoencoder(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": {"fc.weight": torch.zeros(2, 2)}}, other)
    with pytest.raises(UserError, match="no autoencoder weights"):
        load_autoencoder(other)
    listy = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], listy)
    with pytest.raises(UserError, match="not a dict"):
        load_checkpoint(listy)


class _Trap:
    """Unpickling this would create a file (stands in for arbitrary code)."""

    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (builtins.open, (self.target, "w"))


def test_pickled_code_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": tiny().state_dict(), "extra": _Trap(str(marker))}, path)
    assert not marker.exists()
    with pytest.raises(UserError, match="refuses to unpickle"):
        load_autoencoder(path)
    assert not marker.exists()


def test_save_is_atomic(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "model-1.pt", {"step": 1, "model": tiny().state_dict()})

    def crash(obj, f, *a, **k):   # save_checkpoint writes through a file object
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"step": 2})
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["model-1.pt"]
