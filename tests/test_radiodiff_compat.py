"""RadioDiff users' drop-in path: their configs as written, their gradient_accumulate_every, their
EMA, their attention placement, ckpt_path from EMA weights, and ``radiovae train --set``."""

from __future__ import annotations

import pytest
import torch
import yaml

from radiovae.errors import UserError
from radiovae.model import AutoencoderKL, VAEGANLoss
from radiovae.model.checkpoint import infer_config, save_checkpoint
from radiovae.train.config import load_config, resolve_config
from radiovae.train.ema import EMA
from radiovae.train.step import VAEGANStep, build_optimizers

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# RadioDiff's first-stage configs (UNIC-Lab/RadioDiff, MIT licence), keys and values as published;
# comments and the absolute results_folder paths shortened.
OFFICIAL = """\
model:
  embed_dim: 3
  lossconfig: {disc_start: 50001, kl_weight: 0.000001, disc_weight: 0.5, disc_in_channels: 1}
  ddconfig:
    double_z: True
    z_channels: 3
    resolution: [320, 320]
    in_channels: 1
    out_ch: 1
    ch: 128
    ch_mult: [ 1,2,4 ]  # num_down = len(ch_mult)-1
    num_res_blocks: 2
    attn_resolutions: [ ]
    dropout: 0.0
  ckpt_path: #'/home/.../model-kl-d4.ckpt'
data:
  name: radio
  batch_size: 2
trainer:
  gradient_accumulate_every: 2
  lr: !!float 5e-6
  min_lr: !!float 5e-7
  train_num_steps: 150000
  save_and_sample_every: 5000
  log_freq: 100
  results_folder: '/data/DiffRadio/radio_Vae_3'
  amp: False
  fp16: False
"""
# configs_old/first_radio.yaml: batch 16 and a ckpt_path; configs_old/first_stage_d4.yaml: edge
# data from img_folder with flips; a fork's (chg0901/RadioDiff configs/first_radio_m.yaml):
# gradient_accumulate_every 1 and resume_milestone.
OLD = OFFICIAL.replace("batch_size: 2", "batch_size: 16").replace(
    "ckpt_path: #'/home/.../model-kl-d4.ckpt'", "ckpt_path: './model/model-29.pt'")
D4 = OFFICIAL.replace("  name: radio\n", "  name: edge\n  img_folder: '/home/x/total_edges'\n"
                      "  augment_horizontal_flip: True\n").replace("batch_size: 2", "batch_size: 8")
FORK = OFFICIAL.replace("gradient_accumulate_every: 2", "gradient_accumulate_every: 1").replace(
    "  amp: False", "  resume_milestone: 7\n  amp: False")


def write(tmp_path, text, name="first_radio.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_radiodiff_configs_load_as_written(tmp_path):
    with pytest.raises(UserError, match=r"data\.root is required.*--set data\.root=DIR"):
        load_config(write(tmp_path, OFFICIAL))
    cfg = load_config(write(tmp_path, OFFICIAL), ["data.root=/maps"])
    assert cfg.data.name == "radiomapseer" and cfg.data.root == "/maps"
    assert cfg.model.ddconfig.resolution == [320, 320] and cfg.model.ckpt_path is None
    assert cfg.trainer.gradient_accumulate_every == 2 and cfg.trainer.micro_batches == 1
    notes = " | ".join(cfg.notes)
    assert "data.name radio -> radiomapseer" in notes
    assert "trainer.results_folder (the run dir is --run-dir)" in notes
    assert "one autoencoder update and 1 discriminator update per batch" in notes
    assert "effective batch = data.batch_size" in notes

    old = load_config(write(tmp_path, OLD), ["data.root=/maps"])
    assert old.data.batch_size == 16 and old.model.ckpt_path == "./model/model-29.pt"
    d4 = load_config(write(tmp_path, D4))
    assert (d4.data.name, d4.data.root, d4.data.batch_size) == ("folder", "/home/x/total_edges", 8)
    assert "data.augment_horizontal_flip (no flips)" in " | ".join(d4.notes)
    fork = load_config(write(tmp_path, FORK), ["data.root=/maps"])
    assert fork.trainer.gradient_accumulate_every == 1
    assert "trainer.resume_milestone" in " | ".join(fork.notes)
    assert "the discriminator is never stepped" in " | ".join(fork.notes)


def test_set_overrides_are_yaml_typed_and_checked(tmp_path):
    cfg = resolve_config({}, overrides=["trainer.lr=1e-4", "model.ddconfig.ch_mult=[1, 2]",
                                        "trainer.amp=true", "data.root=/x", "model.ckpt_path="])
    assert cfg.trainer.lr == 1e-4 and cfg.model.ddconfig.ch_mult == [1, 2]
    assert cfg.trainer.amp is True and cfg.model.ckpt_path is None
    with pytest.raises(UserError, match=r"unknown config key 'trainer\.lrr'.*'trainer\.lr'"):
        resolve_config({}, overrides=["trainer.lrr=1"])
    with pytest.raises(UserError, match="expected KEY=VALUE"):
        resolve_config({}, overrides=["trainer.lr"])
    with pytest.raises(UserError, match="not valid YAML"):
        resolve_config({}, overrides=["trainer.lr=[1"])
    with pytest.raises(UserError, match="'trainer.lr' must be a number"):
        resolve_config({}, overrides=["trainer.lr=fast"])
    # the typed config also reads as RadioDiff's dicts, and one default lives in one place
    assert cfg["trainer"]["lr"] == cfg.trainer.lr and dict(cfg.model.ddconfig)["ch"] == 128
    assert AutoencoderKL({"ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1}, 3).ddconfig[
        "z_channels"] == cfg.model.ddconfig.z_channels


def test_cli_trains_radiodiff_config_on_synth_maps(tmp_path, capsys):
    """The done-when command, with --set shrinking the model so that it runs in seconds."""
    from radiovae.cli import main

    maps, run = tmp_path / "maps", tmp_path / "run"
    assert main(["data", "synth", "--out", str(maps), "--maps", "3", "--tx", "1",
                 "--size", "32", "--workers", "1"]) == 0
    config = write(tmp_path, FORK)
    small = ["--set", "model.ddconfig.ch=8", "--set", "model.ddconfig.num_res_blocks=1",
             "--set", "data.size=32", "--set", "trainer.num_samples=1"]
    assert main(["train", "--config", str(config), "--run-dir", str(run), "--max-steps", "2",
                 "--set", f"data.root={maps}", *small]) == 0
    err = capsys.readouterr().err
    notice = [line for line in err.splitlines() if line.startswith("radiovae: notice:")]
    assert len(notice) == 1 and "trainer.results_folder" in notice[0] \
        and "trainer.resume_milestone" in notice[0] and "radio -> radiomapseer" in notice[0]
    head = (run / "config.yaml").read_text()
    assert "# trainer.gradient_accumulate_every 1: one autoencoder update and the " \
           "discriminator is never stepped" in head
    assert yaml.safe_load(head)["data"]["root"] == str(maps)
    log = (run / "train.log").read_text().splitlines()
    assert "radiovae config note: data.name radio -> radiomapseer" in log[0]
    assert any("gradient_accumulate_every 1" in line for line in log[:4])
    assert (run / "checkpoints" / "model-2.pt").is_file()


# -- gradient_accumulate_every: RadioDiff's passes ----------------------------------------------

def _step(gae: int, disc_start: int = 0):
    torch.manual_seed(0)
    ae = AutoencoderKL({"resolution": 16, "ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1}, 3)
    loss = VAEGANLoss(disc_start=disc_start, disc_num_layers=2, disc_ndf=8)
    opt_ae, opt_disc = build_optimizers(ae, loss, lr=1e-3)
    return VAEGANStep(ae, loss, opt_ae, opt_disc, gradient_accumulate_every=gae), loss, opt_disc


@pytest.mark.parametrize("gae, disc_steps", [(1, 0), (2, 1), (3, 2)])
def test_gradient_accumulate_every_counts_discriminator_updates(gae, disc_steps, monkeypatch):
    step_fn, loss, opt_disc = _step(gae)
    calls = []
    original = opt_disc.step
    monkeypatch.setattr(opt_disc, "step", lambda *a, **k: (calls.append(1), original(*a, **k)))
    before = [p.detach().clone() for p in loss.discriminator.parameters()]
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    record = step_fn([x], 0)
    assert len(calls) == disc_steps
    moved = any(not torch.equal(a, b) for a, b in zip(before, loss.discriminator.parameters(), strict=True))
    assert moved == (disc_steps > 0)
    assert ("train/disc_loss" in record) == (disc_steps > 0)
    assert record["train/d_weight"] > 0          # the G loss has its GAN term either way


# -- EMA ------------------------------------------------------------------------------------------

def _reference_ema(history, every=10, after=100, beta=0.995, power=2 / 3):
    """RadioDiff's ema.py update loop, written out: one entry of ``history`` per update() call."""
    ema, initted = None, False
    for c, w in enumerate(history):
        if c % every:
            continue
        if c <= after:
            ema = w
            continue
        if not initted:
            ema, initted = w, True
        n = max(c + 1 - after - 1, 0)
        d = 0.0 if n <= 0 else min(max(1 - (1 + n) ** -power, 0.0), beta)
        ema = d * ema + (1 - d) * w
    return ema


def test_ema_follows_radiodiff_schedule_and_scope():
    torch.manual_seed(0)
    net, loss = torch.nn.Linear(1, 1, bias=False), VAEGANLoss(disc_start=0, disc_ndf=8,
                                                                disc_num_layers=1)
    ema = EMA(net, loss=loss)                     # RadioDiff's defaults: 0.995, 10, 100, 2/3
    history = []
    for i in range(3000):
        with torch.no_grad():
            net.weight.fill_(float(i))
            loss.logvar.fill_(-float(i))
        history.append(float(i))
        ema.update(net, i, loss)
    assert ema.ema_model.weight.item() == pytest.approx(_reference_ema(history), rel=1e-6)
    assert ema.ema_loss.logvar.item() == pytest.approx(-_reference_ema(history), rel=1e-6)
    assert ema.current_decay() == pytest.approx(0.995)
    ema2 = EMA(net)
    ema2.calls = 2801
    assert ema2.current_decay() == pytest.approx(1 - 2701 ** (-2 / 3))   # ~0.9948
    state = ema.state_dict()
    assert state["step"].shape == (1,) and state["initted"].item() == 1.0
    assert "ema_model.loss.logvar" in state and "ema_model.loss.discriminator.main.0.weight" in state
    other = EMA(net, loss=loss)
    other.load_state_dict(state)
    assert other.calls == 3000 and other.ema_loss.logvar.item() == ema.ema_loss.logvar.item()
    old = EMA(net, ema_decay=0.5, ema_update_every=1, ema_schedule="tf_warmup")
    assert old.current_decay() == pytest.approx(0.1)      # min(0.5, (1 + 0) / (10 + 0))


def test_ckpt_path_loads_ema_weights_loss_included(tmp_path):
    from radiovae.model import init_from_checkpoint

    dd = {"resolution": 16, "ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1}
    torch.manual_seed(1)
    online, online_loss = AutoencoderKL(dd, 3), VAEGANLoss(disc_start=0, disc_ndf=8)
    averaged, averaged_loss = AutoencoderKL(dd, 3), VAEGANLoss(disc_start=0, disc_ndf=8)
    with torch.no_grad():
        online_loss.logvar.fill_(0.25)
        averaged_loss.logvar.fill_(-0.5)
    ckpt = {"model": {**online.state_dict(),
                      **{f"loss.{k}": v for k, v in online_loss.state_dict().items()}},
            "ema": {**{f"ema_model.{k}": v for k, v in averaged.state_dict().items()},
                    **{f"ema_model.loss.{k}": v for k, v in averaged_loss.state_dict().items()}}}
    save_checkpoint(tmp_path / "model-3.pt", ckpt)
    for use_ema, ref, ref_loss in ((True, averaged, averaged_loss), (False, online, online_loss)):
        ae, loss = AutoencoderKL(dd, 3), VAEGANLoss(disc_start=0, disc_ndf=8)
        line = init_from_checkpoint(str(tmp_path / "model-3.pt"), ae, loss, use_ema)
        assert ("EMA" in line) == use_ema and "loss (logvar, discriminator) too" in line
        assert torch.equal(ae.decoder.conv_out.weight, ref.decoder.conv_out.weight)
        assert loss.logvar.item() == ref_loss.logvar.item()
        assert torch.equal(loss.discriminator.main[0].weight, ref_loss.discriminator.main[0].weight)


# -- attention placement ------------------------------------------------------------------------

def _attn(ddconfig):
    base = {"ch": 8, "ch_mult": [1, 2, 2], "num_res_blocks": 1, "z_channels": 3}
    keys = AutoencoderKL({**base, **ddconfig}, 3).state_dict()
    return sorted({".".join(k.split(".")[:3]) for k in keys if ".attn." in k})


def test_attention_placement_matches_radiodiff():
    # list resolution (RadioDiff): only encoder.down.0, and only when the full [H, W] is listed
    assert _attn({"resolution": [32, 32], "attn_resolutions": [[32, 32]]}) == ["encoder.down.0"]
    assert _attn({"resolution": [32, 32], "attn_resolutions": [[16, 16], 16]}) == []
    # int resolution (latent-diffusion): every level of that size, encoder and decoder
    assert _attn({"resolution": 32, "attn_resolutions": [16]}) == ["decoder.up.1", "encoder.down.1"]
    radiodiff = AutoencoderKL({"ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1,
                               "resolution": [32, 32], "attn_resolutions": [[32, 32]]}, 3)
    arch = infer_config(radiodiff.state_dict())      # such a checkpoint loads with no config
    AutoencoderKL(arch["ddconfig"], arch["embed_dim"]).load_state_dict(radiodiff.state_dict())



def test_attn_type_none_builds_no_attention_and_its_checkpoint_loads_without_a_config(tmp_path):
    """latent-diffusion's ``attn_type: none`` (the demo's): no attention modules anywhere, the mid
    blocks' included; the weights alone say so, and any other value is refused by name."""
    from radiovae.model import load_autoencoder

    dd = {"ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1, "resolution": 32,
          "attn_resolutions": [16], "attn_type": "none"}
    ae = AutoencoderKL(dd, 3)
    assert not [k for k in ae.state_dict() if "attn" in k]
    with_attn = AutoencoderKL({**dd, "attn_type": "vanilla"}, 3)
    assert {k.split(".attn")[0] for k in with_attn.state_dict() if "attn" in k} == {
        "encoder.mid", "decoder.mid", "encoder.down.1", "decoder.up.1"}
    assert infer_config(ae.state_dict())["ddconfig"]["attn_type"] == "none"
    assert infer_config(with_attn.state_dict())["ddconfig"]["attn_type"] == "vanilla"
    path = save_checkpoint(tmp_path / "model-1.pt", {"step": 1, "model": ae.state_dict()})
    x = torch.randn(2, 1, 32, 32)
    torch.testing.assert_close(load_autoencoder(path)(x, sample_posterior=False)[0],
                               ae.eval()(x, sample_posterior=False)[0])
    with pytest.raises(UserError, match="attn_type"):
        resolve_config({}, overrides=["model.ddconfig.attn_type=linear"])

# -- adaptive weight ---------------------------------------------------------------------------

def test_per_pixel_adaptive_weight_caps_the_per_pixel_ratio():
    torch.manual_seed(0)
    ae = AutoencoderKL({"resolution": 16, "ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1}, 3)
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    out = {}
    for mode, cap in (("radiodiff", 1e12), ("per_pixel", 1e12), ("radiodiff", 1.0),
                      ("per_pixel", 1.0)):
        torch.manual_seed(1)
        loss = VAEGANLoss(disc_start=0, disc_ndf=8, disc_num_layers=2, adaptive_weight=mode,
                          d_weight_max=cap)
        x_hat, post = ae(x, sample_posterior=False)
        total, log = loss.generator_loss(x, x_hat, post, 0, ae.get_last_layer())
        nll, kl = log["train/nll_loss"], log["train/kl_loss"]
        # the logged d_weight is the multiplier of g_loss: the total is reproducible from the log
        assert total.item() == pytest.approx((nll + 1e-6 * kl + log["train/d_weight"]
                                              * log["train/g_loss"]).item(), rel=1e-5)
        out[mode, cap] = log["train/d_weight"].item()
    free = out["radiodiff", 1e12]                      # the unclamped ratio x disc_weight
    assert out["per_pixel", 1e12] == pytest.approx(free, rel=1e-5)
    assert out["radiodiff", 1.0] == pytest.approx(0.5) and free > 256 * 0.5 * 1.0 > 0.5
    assert out["per_pixel", 1.0] == pytest.approx(min(free, 0.5 * 256), rel=1e-5)
    assert load_config("demo").model.lossconfig.adaptive_weight == "per_pixel"
    assert resolve_config({}).model.lossconfig.adaptive_weight == "radiodiff"


def test_own_config_notes_are_not_skipped_lines(tmp_path):
    """radiovae's train.log starts with its config notes: read back, they are not 'bad lines'."""
    from radiovae.runlog import load_run

    log = tmp_path / "train.log"
    log.write_text(
        "2026-01-01 00:00:00,000 radiovae config note: data.name radio -> radiomapseer\n"
        "2026-01-01 00:00:00,000 radiovae training config: {'model': {'embed_dim': 3}}\n"
        "2026-01-01 00:00:01,000 [Train Step] 0/10: train/total_loss: 1.00000, lr: 0.00100, \n"
        "2026-01-01 00:00:02,000 not a record at all\n")
    run = load_run(log)
    assert list(run.table["step"]) == [0]
    assert run.skipped_lines == 1
    assert [n["what"] for n in run.notes] == ["not a record: '2026-01-01 00:00:02,000 not a record at all'"]
