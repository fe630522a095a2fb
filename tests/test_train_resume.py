"""Training robustness: malformed checkpoints, stale temp files, a full disk during a save, and
exact resume under DDP (torchrun / accelerate launch with 2 CPU processes, gloo)."""

from __future__ import annotations

import copy
import errno
import importlib.util
import os
from pathlib import Path

import pytest
import torch
import yaml
from ddp_launch import assert_clean_exit, free_port, run_launcher, torchrun
from helpers import require
from helpers import run_records as rows

from radiovae.errors import UserError
from radiovae.train import resume as R
from radiovae.train import trainer as T
from radiovae.train.config import resolve_config

# 16 x 16 maps, ch 8: a CPU step in a few ms. GAN from step 4 (0-based), so a run of 8 steps has
# both phases and a stop at step 3 resumes across disc_start.
SMALL = {
    "model": {"embed_dim": 2,
              "lossconfig": {"disc_start": 4, "disc_num_layers": 2, "disc_ndf": 8},
              "ddconfig": {"ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1, "z_channels": 2,
                           "resolution": 16}},
    "data": {"name": "synthetic", "size": 16, "num_maps": 4, "tx_per_map": 2, "eval_num_maps": 1,
             "batch_size": 1},
    "trainer": {"lr": 1e-3, "min_lr": 1e-4, "train_num_steps": 8, "save_and_sample_every": 2,
                "log_freq": 1, "ema_update_every": 1, "num_samples": 1, "device": "cpu"},
}


def error_lines(err: str) -> list[str]:
    """stderr without the progress bars: what the CLI said."""
    return [line for line in err.splitlines() if "radiovae" in line or "Traceback" in line
            or "Error" in line]


def assert_same_records(a: Path, b: Path, tol: float = 1e-4) -> None:
    """Every logged term of every step agrees to ``tol`` (relative, absolute near 0)."""
    ra, rb = rows(a), rows(b)
    assert [r["step"] for r in ra] == [r["step"] for r in rb] == list(range(8))
    assert ra[3]["train/disc_factor"] == 0.0 and ra[-1]["train/disc_factor"] == 1.0
    for x, y in zip(ra, rb, strict=True):
        assert set(x) == set(y), x["step"]
        for k in x:
            if k != "time":
                assert abs(x[k] - y[k]) <= tol * max(abs(x[k]), 1.0), (x["step"], k, x[k], y[k])


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory):
    """A 4-step run with checkpoints model-2.pt and model-4.pt, and model-4's contents."""
    run = tmp_path_factory.mktemp("run")
    torch.set_num_threads(1)
    T.train(copy.deepcopy(SMALL), run, max_steps=4, progress=False)
    good = torch.load(run / "checkpoints" / "model-4.pt", weights_only=True)
    good.pop("payload_sha256")   # edited copies below are malformed, not damaged: no stale digest
    return run, good


def _fresh_copy(two_checkpoints, tmp_path) -> Path:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(two_checkpoints[0], run)
    return run


def _drop(key):
    return lambda c: {k: v for k, v in c.items() if k != key}


def _set(key, value):
    return lambda c: {**c, key: value}


def _opt_bad_shape(c):
    opt = copy.deepcopy(c["opt_ae"])
    first = next(iter(opt["state"]))
    opt["state"][first]["exp_avg"] = torch.zeros(3)
    return {**c, "opt_ae": opt}


MALFORMED = {
    "no rng": (_drop("rng"), "it lacks rng"),
    "no opt_ae": (_drop("opt_ae"), "it lacks opt_ae"),
    "step as text": (_set("step", "4"), "its step is '4' (str), not a step count"),
    "step negative": (_set("step", -4), "not a step count"),
    "step of another file": (_set("step", 6), "holds step 6 but is named model-4.pt"),
    "rng garbage": (_set("rng", {"python": 1, "numpy": {}, "torch": "x", "cuda": []}),
                    "its RNG state does not load"),
    "data as text": (_set("data", "epoch 2"), "data position is not"),
    "ranks not a list": (_set("ranks", {"0": {}}), "per-process states"),
    "model not a mapping": (_set("model", [1, 2]), "its model is a list, not a mapping"),
    "config without the model": (_set("config", {}), "its config does not name the model"),
    "model tensor missing": (lambda c: {**c, "model": dict(list(c["model"].items())[1:])},
                             "its model lacks 1 tensor(s), e.g. encoder.conv_in.weight"),
    "optimizer state of another shape": (_opt_bad_shape, "its opt_ae exp_avg of parameter"),
}


def test_malformed_newest_checkpoint_is_skipped_with_one_line(two_checkpoints, tmp_path, capsys):
    _, good = two_checkpoints
    cfg = resolve_config(copy.deepcopy(SMALL))
    run = _fresh_copy(two_checkpoints, tmp_path)
    newest = run / "checkpoints" / "model-4.pt"
    assert R.latest_checkpoint(run, cfg)[0] == newest          # the good one is taken
    for name, (damage, why) in MALFORMED.items():
        torch.save(damage(good), newest)
        path, ckpt = R.latest_checkpoint(run, cfg)
        out = capsys.readouterr().out
        assert path.name == "model-2.pt" and ckpt["step"] == 2, name
        assert out.count("\n") == 1 and out.startswith(f"radiovae: warning: skipping {newest}: "), name
        assert why in out, (name, out)
    newest.write_bytes(newest.read_bytes()[:1000])               # truncated: the same one line
    assert R.latest_checkpoint(run, cfg)[0].name == "model-2.pt"
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "is not a readable PyTorch checkpoint" in out


def test_checkpoint_of_another_model_is_refused_not_skipped(two_checkpoints):
    other = copy.deepcopy(SMALL)
    other["model"]["ddconfig"]["ch"] = 16
    with pytest.raises(UserError, match="different model.ddconfig"):
        R.latest_checkpoint(two_checkpoints[0], resolve_config(other))


def test_resume_past_malformed_checkpoint_and_stale_temp_files(two_checkpoints, tmp_path, capsys):
    """End to end: the CLI resumes from model-2 past a malformed model-4, removes the leftovers
    of killed saves, and writes a good model-4 again; with no usable checkpoint it refuses."""
    from radiovae.cli import main

    _, good = two_checkpoints
    run = _fresh_copy(two_checkpoints, tmp_path)
    torch.save({k: v for k, v in good.items() if k != "rng"}, run / "checkpoints" / "model-4.pt")
    stale = [run / "checkpoints" / ".model-6.pt.tmp-k1ll3d.pt", run / ".config.yaml.tmp-x.yaml",
             run / "samples" / ".step-0000006.png.tmp-y.png"]
    for p in stale:
        p.write_bytes(b"\0" * 5000)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(SMALL))
    assert main(["train", "--config", str(cfg), "--run-dir", str(run), "--max-steps", "4"]) == 0
    out = capsys.readouterr().out
    assert "removed 3 unfinished file(s) (0.0 MB) left by interrupted saves" in out
    assert out.count("radiovae: warning: skipping") == 1 and "it lacks rng" in out
    assert not any(p.exists() for p in stale)
    assert [r["step"] for r in rows(run)] == [0, 1, 2, 3]
    assert R.problem(torch.load(run / "checkpoints" / "model-4.pt", weights_only=True),
                     run / "checkpoints" / "model-4.pt") is None

    for p in (run / "checkpoints").glob("model-*.pt"):        # nothing usable left: no fresh start
        p.write_bytes(b"garbage")
    assert main(["train", "--config", str(cfg), "--run-dir", str(run)]) == 2
    err = error_lines(capsys.readouterr().err)
    assert len(err) == 1 and "none of the 2 checkpoint(s)" in err[0]
    assert [r["step"] for r in rows(run)] == [0, 1, 2, 3]      # the records are untouched


def test_full_disk_during_save_stops_with_one_line(two_checkpoints, tmp_path, capsys, monkeypatch):
    from radiovae.cli import main

    run = _fresh_copy(two_checkpoints, tmp_path)
    before = (run / "checkpoints" / "model-4.pt").read_bytes()
    real_save = torch.save

    def full_disk(obj, f, *a, **kw):
        f.write(b"PK\x03\x04" + b"\0" * 4096)            # part of it got written
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full_disk)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(SMALL))
    assert main(["train", "--config", str(cfg), "--run-dir", str(run), "--max-steps", "6"]) == 2
    err = error_lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("radiovae: error: ")
    assert (f"could not write checkpoint {run / 'checkpoints' / 'model-6.pt'} (no space left on "
            f"device): training stopped after step 6; the previous checkpoint "
            f"{run / 'checkpoints' / 'model-4.pt'} is intact") in err[0]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["model-2.pt", "model-4.pt"]
    assert (run / "checkpoints" / "model-4.pt").read_bytes() == before

    monkeypatch.setattr(torch, "save", real_save)          # space freed: the same command resumes
    monkeypatch.setattr(T.RunDirWriter, "log", _raise_enospc)   # ... and the disk fills while logging
    assert main(["train", "--config", str(cfg), "--run-dir", str(run), "--max-steps", "6"]) == 2
    err = error_lines(capsys.readouterr().err)
    assert len(err) == 1 and "no space left on device while writing the records" in err[0]
    assert "the last checkpoint" in err[0] and "model-4.pt is intact" in err[0]


def _raise_enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# -- DDP: 2 CPU processes (gloo) on the loopback interface ------------------------------------------

def _launch(launcher: list[str], config: Path, run: Path, *extra: str) -> None:
    done = run_launcher(launcher, config, run, *extra)
    log = run.parent / f"{run.name}.launch.log"
    assert done.returncode == 0, f"see {log}: " + "\n".join(
        line for line in done.stderr.splitlines() if "rror" in line or "bort" in line)[-3000:]
    assert_clean_exit(done, run)
    assert f"records in {run}" in done.stdout   # rank 0's last line, flushed before os._exit


@pytest.fixture(scope="module")
def ddp_config(tmp_path_factory) -> Path:
    cfg = copy.deepcopy(SMALL)
    cfg["trainer"]["save_and_sample_every"] = 4
    path = tmp_path_factory.mktemp("ddp") / "small.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def ddp_full(ddp_config) -> Path:
    """8 uninterrupted steps by 2 processes under torchrun."""
    run = ddp_config.parent / "full"
    _launch(torchrun(), ddp_config, run)
    return run


def test_torchrun_stopped_and_resumed_matches_uninterrupted(ddp_config, ddp_full):
    run = ddp_config.parent / "resumed"
    _launch(torchrun(), ddp_config, run, "--max-steps", "3")     # off the save grid, phase 1
    ckpt = torch.load(run / "checkpoints" / "model-3.pt", weights_only=True)
    assert ckpt["world_size"] == 2 and len(ckpt["ranks"]) == 2
    assert not torch.equal(ckpt["ranks"][0]["rng"]["torch"], ckpt["ranks"][1]["rng"]["torch"])
    _launch(torchrun(), ddp_config, run)                        # resumes at 3, through disc_start
    assert_same_records(ddp_full, run)
    a = torch.load(ddp_full / "checkpoints" / "model-8.pt", weights_only=True)
    b = torch.load(run / "checkpoints" / "model-8.pt", weights_only=True)
    for k, v in a["model"].items():
        assert torch.allclose(v.float(), b["model"][k].float(), rtol=1e-4, atol=1e-6), k
    for ra, rb in zip(a["ranks"], b["ranks"], strict=True):   # every rank: same RNG, same data
        assert torch.equal(ra["rng"]["torch"], rb["rng"]["torch"]) and ra["data"] == rb["data"]


def test_accelerate_launch_runs_two_processes(ddp_config, ddp_full):
    """`accelerate launch --multi_gpu --num_processes 2` (README's CPU command) is the same 2-process
    run as torchrun's; `--cpu --num_processes 2` would start one process."""
    require("accelerate", None if importlib.util.find_spec("accelerate") else
            "not installed (pip install radiovae[distributed])", "RADIOVAE_SKIP_ACCELERATE")
    run = ddp_config.parent / "accelerate"
    _launch(["-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
             "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
             "--main_process_port", str(free_port())], ddp_config, run)
    ckpt = torch.load(run / "checkpoints" / "model-8.pt", weights_only=True)
    assert ckpt["world_size"] == 2 and len(ckpt["ranks"]) == 2
    assert_same_records(ddp_full, run)


def test_accelerate_cpu_flag_that_starts_one_process_is_named(monkeypatch, capsys):
    """What `accelerate launch --cpu --num_processes 2` hands the one process it starts."""
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    monkeypatch.setenv("MASTER_PORT", "29500")
    assert T.setup_distributed("cpu").world_size == 1
    out = capsys.readouterr().out
    assert "starts one process" in out and "--multi_gpu --num_processes N" in out
    monkeypatch.delenv("MASTER_PORT")                      # `--num_processes 1`: nothing to say
    T.setup_distributed("cpu")
    assert capsys.readouterr().out == ""


def test_full_disk_seen_by_torch_zip_writer_is_an_oserror(tmp_path, monkeypatch):
    """On a real full disk torch's zip writer may fail with RuntimeError('... unexpected pos')
    while the OSError(ENOSPC) that caused it is its context: save_checkpoint raises the OSError."""
    from radiovae.model import save_checkpoint

    def zip_writer_fails(obj, f, *a, **kw):
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        finally:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(torch, "save", zip_writer_fails)
    with pytest.raises(OSError) as info:
        save_checkpoint(tmp_path / "model-1.pt", {"step": 1})
    assert info.value.errno == errno.ENOSPC and list(tmp_path.iterdir()) == []
