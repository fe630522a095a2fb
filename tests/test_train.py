"""Trainer: config errors, LR schedule, EMA, exact resume, crash-safe checkpoints, records,
--max-steps, non-finite steps."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import yaml
from helpers import run_lines as lines
from helpers import run_records as rows

from radiovae.errors import UserError
from radiovae.train import trainer as T
from radiovae.train.config import load_config, resolve_config
from radiovae.train.ema import EMA

# A model small enough for a CPU step in ~0.1 s: 32 x 32 maps, z = 2 x 16 x 16.
TINY = {
    "model": {"embed_dim": 2,
              "lossconfig": {"disc_start": 5, "disc_num_layers": 2, "disc_ndf": 8},
              "ddconfig": {"ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1, "z_channels": 2,
                           "resolution": 32}},
    "data": {"name": "synthetic", "size": 32, "num_maps": 3, "tx_per_map": 2, "eval_num_maps": 1,
             "batch_size": 2},
    "trainer": {"lr": 1e-3, "min_lr": 1e-4, "train_num_steps": 8, "save_and_sample_every": 2,
                "log_freq": 1, "ema_update_every": 1, "num_samples": 2},
}


def tiny(**trainer) -> dict:
    cfg = copy.deepcopy(TINY)
    cfg["trainer"].update(trainer)
    return cfg


# -- config ---------------------------------------------------------------------------------------

def test_unknown_key_is_named_with_a_suggestion():
    with pytest.raises(UserError, match=r"'trainer\.train_num_step'.*did you mean "
                                        r"'trainer\.train_num_steps'"):
        resolve_config({"trainer": {"train_num_step": 10}})
    with pytest.raises(UserError, match=r"unknown config key 'modle'.*'model'"):
        resolve_config({"modle": {}})
    with pytest.raises(UserError, match=r"'model\.ddconfig\.zz'"):
        resolve_config({"model": {"ddconfig": {"zz": 1}}})


def test_wrong_types_and_values_are_refused():
    with pytest.raises(UserError, match=r"'trainer\.lr' must be a number, got 'fast'"):
        resolve_config({"trainer": {"lr": "fast"}})
    with pytest.raises(UserError, match=r"'data\.batch_size' must be an integer"):
        resolve_config({"data": {"batch_size": True}})
    with pytest.raises(UserError, match=r"'data\.batch_size' must be positive"):
        resolve_config({"data": {"batch_size": 0}})
    with pytest.raises(UserError, match=r"'data\.name' must be one of"):
        resolve_config({"data": {"name": "imagenet"}})
    with pytest.raises(UserError, match=r"'model' must be a mapping"):
        resolve_config({"model": 3})
    with pytest.raises(UserError, match="min_lr"):
        resolve_config({"trainer": {"lr": 1e-5, "min_lr": 1e-4}})
    with pytest.raises(UserError, match="data.root is required"):
        resolve_config({"data": {"name": "radiomapseer"}})


def test_yaml_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer:\n  lr: [1, 2\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(UserError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    ok = tmp_path / "ok.yaml"   # RadioDiff's own spelling loads: !!float, 'radio', its extra keys
    ok.write_text("data:\n  name: radio\n  root: /x\ntrainer:\n  lr: !!float 5e-6\n"
                  "  min_lr: 5e-7\n  results_folder: './radiodiff_Vae'\n  resume_milestone: 7\n")
    cfg = load_config(ok)
    assert cfg.data.name == "radiomapseer"
    assert cfg.trainer.lr == 5e-6 and cfg.trainer.min_lr == 5e-7


def test_shipped_configs():
    paper = load_config("radiodiff_first_stage", ["data.root=/data/RadioMapSeer"])
    m, t, d = paper.model, paper.trainer, paper.data
    assert m.ddconfig.resolution == [320, 320] and d.size == 256
    assert t.gradient_accumulate_every == 2       # configs/first_radio.yaml: one G + one D update
    assert m.ddconfig.ch == 128 and m.ddconfig.ch_mult == [1, 2, 4]
    assert m.ddconfig.z_channels == 3 and m.embed_dim == 3
    assert m.lossconfig.disc_start == 50001 and m.lossconfig.kl_weight == 1e-6
    assert m.lossconfig.disc_weight == 0.5
    assert (t.lr, t.min_lr, t.train_num_steps) == (5e-6, 5e-7, 150000)
    assert (t.save_and_sample_every, t.log_freq, d.batch_size) == (5000, 100, 2)
    assert d.name == "radiomapseer"
    for name in ("cpu_small", "demo"):
        assert load_config(name).data.name == "synthetic"


def test_cli_bad_config_is_one_line_exit_2(tmp_path, capsys):
    from radiovae.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text("trainer:\n  learning_rate: 1.0\n")
    assert main(["train", "--config", str(cfg), "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "trainer.learning_rate" in err


# -- schedule and EMA -------------------------------------------------------------------------------

def test_lr_schedule_polynomial_with_absolute_floor():
    lr, floor, n = 5e-6, 5e-7, 150_000
    assert T.lr_at(0, lr, floor, n, "absolute") == lr
    assert T.lr_at(75_000, lr, floor, n, "absolute") == pytest.approx(lr * 0.5 ** 0.95)
    # RadioDiff floors the factor at min_lr (LR -> 5e-6 * 5e-7); the floor here is the LR itself.
    assert T.lr_at(149_999, lr, floor, n, "absolute") == floor
    assert T.lr_at(n, lr, floor, n, "absolute") == floor
    assert T.lr_at(140_000, lr, 0.0, n, "absolute") == pytest.approx(lr * (10_000 / n) ** 0.95)


def test_ema_average_and_state_dict_layout():
    torch.manual_seed(0)
    net = torch.nn.Linear(2, 2)
    ema = EMA(net, ema_decay=0.5, ema_update_every=2, ema_schedule="tf_warmup")   # radiovae's old schedule
    w0 = net.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net, step=0)                    # not an update step
    assert torch.equal(ema.ema_model.weight, w0)
    ema.update(net, step=1)                    # warm-up decay min(0.5, 1/10) = 0.1
    assert torch.allclose(ema.ema_model.weight, 0.1 * w0 + 0.9 * (w0 + 1))
    state = ema.state_dict()
    assert {"ema_model.weight", "ema_model.bias", "step", "initted"} <= set(state)
    other = EMA(torch.nn.Linear(2, 2), ema_schedule="tf_warmup")
    other.load_state_dict(state)
    assert torch.equal(other.ema_model.weight, ema.ema_model.weight) and other.updates == 1


# -- training runs ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """8 uninterrupted steps (GAN from step 5), checkpoint every 2."""
    run = tmp_path_factory.mktemp("full")
    T.train(tiny(), run, progress=False)
    return run


def test_resume_matches_uninterrupted_run(full_run, tmp_path):
    run = tmp_path / "resumed"
    first = T.train(tiny(), run, max_steps=5, progress=False)   # mid-epoch, off the save grid
    assert first["stopped"] == "max_steps" and (run / "checkpoints" / "model-5.pt").is_file()
    T.train(tiny(), run, progress=False)                           # same command: resumes at 5
    a, b = rows(full_run), rows(run)
    assert [r["step"] for r in a] == [r["step"] for r in b] == list(range(8))
    for ra, rb in zip(a, b, strict=True):
        assert set(ra) == set(rb)
        for k in ra:
            if k != "time":
                assert abs(ra[k] - rb[k]) <= 1e-4 * max(abs(ra[k]), 1e-12), (ra["step"], k)
    assert b[-1]["train/disc_factor"] == 1.0 and b[4]["train/disc_factor"] == 0.0
    # the --max-steps stop's end marker went with the resume; the finished run ends with one
    ends = [(r["step"], r["stopped"]) for r in lines(run) if r.get("event") == "end"]
    assert ends == [(8, "done")] and lines(run)[-1]["event"] == "end"
    end_a = torch.load(full_run / "checkpoints" / "model-8.pt", weights_only=True)
    end_b = torch.load(run / "checkpoints" / "model-8.pt", weights_only=True)
    for k, v in end_a["ema"].items():
        assert torch.allclose(v.float(), end_b["ema"][k].float(), rtol=1e-4, atol=1e-6), k


def test_records_and_checkpoint_contents(full_run):
    from radiovae.runlog import load_run

    data = rows(full_run)
    phase1 = {"train/total_loss", "train/logvar", "train/kl_loss", "train/nll_loss",
              "train/rec_loss", "train/d_weight", "train/disc_factor", "train/g_loss", "lr"}
    assert set(data[0]) == {"step", "time"} | phase1
    assert set(data[-1]) == {"step", "time", "train/disc_loss", "train/logits_real",
                             "train/logits_fake"} | phase1
    assert all(r["lr"] == pytest.approx(T.lr_at(r["step"], 1e-3, 1e-4, 8, "absolute")) for r in data)
    assert data[-1]["train/logvar"] != 0.0             # logvar trains (RadioDiff's never does)
    log = load_run(full_run / "train.log")             # RadioDiff's text format, A's reader
    assert list(log.table["step"]) == list(range(8))
    assert log.table["train/rec_loss"].iloc[3] == pytest.approx(data[3]["train/rec_loss"], abs=1e-5)
    run = load_run(full_run)
    assert len(run.table) == 8 and run.config.get("disc_start") == 5
    # the end marker (radiovae watch ends on it), in both record files, not a record
    assert run.end["step"] == 8 and run.end["stopped"] == "done" and run.skipped_lines == 0
    assert "[Train End] 8/8: done" in (full_run / "train.log").read_text().splitlines()[-1]
    assert log.end["step"] == 8 and "[Train End]" not in str(log.notes)   # not a skipped line
    assert list((full_run / "tb").glob("events.out.tfevents.*"))
    assert sorted(p.name for p in (full_run / "samples").glob("*.png")) == [
        f"step-{s:07d}.png" for s in (2, 4, 6, 8)]
    assert yaml.safe_load((full_run / "config.yaml").read_text())["trainer"]["lr"] == 1e-3
    ckpt = torch.load(full_run / "checkpoints" / "model-8.pt", weights_only=True)
    assert {"step", "model", "ema", "opt_ae", "opt_disc", "lr_scheduler_ae", "lr_scheduler_disc",
            "scaler", "rng", "data", "config"} <= set(ckpt)
    assert ckpt["step"] == 8 and "loss.logvar" in ckpt["model"]
    assert any(k.startswith("ema_model.encoder.") for k in ckpt["ema"])
    assert set(ckpt["rng"]) == {"python", "numpy", "torch", "cuda"}
    assert ckpt["data"]["epoch"] == 2 and ckpt["data"]["index"] == 2   # 3 batches per epoch
    # the autoencoder loads with E's loader, EMA weights by default
    from radiovae.model import load_autoencoder
    ae = load_autoencoder(full_run / "checkpoints" / "model-8.pt")
    assert torch.equal(ae.encoder.conv_in.weight, ckpt["ema"]["ema_model.encoder.conv_in.weight"])


def test_max_steps_and_nothing_left_to_do(full_run, capsys):
    again = T.train(tiny(), full_run, progress=False)
    assert again["step"] == 8 and "nothing to do" in capsys.readouterr().out
    assert len(rows(full_run)) == 8


def test_crash_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    T.train(tiny(), run, max_steps=2, progress=False)
    real_save = torch.save

    def dying_save(obj, f, *a, **kw):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(UserError, match=r"could not write checkpoint .*model-4\.pt \(disk full "
                                        r"\(simulated\)\).*model-2\.pt is intact"):
        T.train(tiny(), run, max_steps=4, progress=False)
    monkeypatch.setattr(torch, "save", real_save)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["model-2.pt"]
    path, ckpt = T.latest_checkpoint(run)
    assert path.name == "model-2.pt" and ckpt["step"] == 2
    T.train(tiny(), run, max_steps=4, progress=False)     # resumes from 2, records cut back to 2
    assert [r["step"] for r in rows(run)] == list(range(4))


def _nan_batches(monkeypatch, bad_steps):
    """Make the training batches of ``bad_steps`` all NaN (first call is the sample batch)."""
    real, calls = T.fit_size, {"n": -1}

    def fit(images, size):
        calls["n"] += 1
        out = real(images, size)
        return out * math.nan if calls["n"] - 1 in bad_steps else out

    monkeypatch.setattr(T, "fit_size", fit)


def test_nonfinite_step_is_skipped_and_recorded(tmp_path, monkeypatch):
    _nan_batches(monkeypatch, {2})
    run = tmp_path / "run"
    T.train(tiny(max_nonfinite_in_a_row=2), run, max_steps=4, progress=False)
    data = rows(run)
    assert [r["step"] for r in data] == [0, 1, 2, 3]
    assert data[2]["skipped"] == 1 and math.isnan(data[2]["train/total_loss"])
    assert "skipped" not in data[3] and math.isfinite(data[3]["train/total_loss"])
    assert '"train/total_loss": NaN' in (run / "metrics.jsonl").read_text()
    ckpt = torch.load(run / "checkpoints" / "model-4.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def test_too_many_nonfinite_steps_stop_with_checkpoint(tmp_path, monkeypatch, capsys):
    from radiovae.cli import main

    _nan_batches(monkeypatch, set(range(1, 100)))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny(max_nonfinite_in_a_row=3)))
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--run-dir", str(run)]) == T.EXIT_DIVERGED
    err = capsys.readouterr().err
    assert "3 non-finite steps in a row" in err and "model-4.pt" in err
    assert [r.get("skipped", 0) for r in rows(run)] == [0, 1, 1, 1]
    ckpt = torch.load(run / "checkpoints" / "model-4.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
