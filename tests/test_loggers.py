"""Readers for Lightning's CSVLogger, W&B run folders / exports and MLflow's file store, each on
files laid out exactly as that logger writes them (tests/loggerfactory.py), checked value by value
against the frame they were written from."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from logfactory import read_real_run, with_disc_terms
from loggerfactory import (
    DISC,
    GEN,
    VAL,
    epoch_ends,
    val_values,
    write_lightning_run,
    write_mlflow_run,
    write_wandb_chart_csv,
    write_wandb_history_csv,
    write_wandb_run,
)
from summaries import summary_json

from radiovae.cli import main
from radiovae.errors import UserError
from radiovae.runlog import load_run
from radiovae.runlog.load import detect_format
from radiovae.runlog.streams import classify, is_validation

EPOCH = 5000


@pytest.fixture(scope="module")
def frame(real_run_csv) -> pd.DataFrame:
    return with_disc_terms(read_real_run(real_run_csv))


def _check_training(run, frame: pd.DataFrame) -> None:
    """Every training value read equals the value written, at its step; nothing else in the table."""
    table = run.table
    np.testing.assert_array_equal(table["step"].to_numpy(), frame["step"].to_numpy())
    for col in GEN + DISC:
        np.testing.assert_allclose(table[col].to_numpy(), frame[col].to_numpy(), rtol=1e-12,
                                   err_msg=col)
    np.testing.assert_allclose(table["lr-Adam"].to_numpy(), frame["lr"].to_numpy())
    assert not [c for c in table.columns if c.startswith("val/") or c.endswith("_epoch")]
    assert "epoch" not in table.columns


def _check_validation(run, frame: pd.DataFrame) -> None:
    """One validation row per finished epoch, at its last logged step, with the values logged;
    the epoch means one step later, equal to the mean of the epoch's logged totals."""
    ends = epoch_ends(frame["step"].to_numpy(), EPOCH)
    val, means = run.validation, run.epoch_means
    assert val is not None and means is not None and len(ends) > 20
    assert sorted(c for c in val.columns if c not in ("step", "time")) == sorted(VAL)
    np.testing.assert_array_equal(val["step"], ends)
    for key in VAL:
        np.testing.assert_allclose(val[key], [val_values(int(s) // EPOCH)[key] for s in ends])
    np.testing.assert_array_equal(means["step"], ends + 1)
    epoch = frame["step"].to_numpy() // EPOCH
    for i, s in enumerate(ends[:3]):
        mine = frame["train/total_loss"][epoch == s // EPOCH]
        assert means["aeloss_epoch"].iloc[i] == pytest.approx(mine.mean(), rel=1e-12)


def test_lightning_csvlogger_version_dir(frame, tmp_path):
    vdir = write_lightning_run(tmp_path / "logs" / "2025-08-15T20-40-00_vae", frame,
                               hparams={"embed_dim": 3})
    text = (vdir / "metrics.csv").read_text()
    header = text.splitlines()[0].split(",")
    assert header == sorted(header) and "aeloss_step" in header and "val/rec_loss" in header
    assert detect_format(vdir / "metrics.csv") == "lightning_csv"

    for source in (vdir, vdir / "metrics.csv"):
        run = load_run(source)
        assert run.segments[0].format == "lightning_csv"
        _check_training(run, frame)
        # aeloss_step -> aeloss (Lightning's suffix dropped): the generator's returned loss
        np.testing.assert_allclose(run.table["aeloss"], frame["train/total_loss"])
        np.testing.assert_allclose(run.table["discloss"], frame["train/disc_loss"])
        _check_validation(run, frame)
        # hparams.yaml over latent-diffusion's project config
        assert run.config["disc_start"] == 50001 and run.config["total_steps"] == 150000
        assert run.config["raw"]["embed_dim"] == 3
    summary = summary_json(run)
    assert summary["phases"][1]["start_step"] == 50100     # disc_factor > 0 from there
    assert not [f for f in summary["findings"] if f["id"] == "non_finite"]
    assert not [m for m in summary["metrics"] if m.startswith("val/") or m.endswith("_epoch")]


def test_lightning_versions_are_one_resumed_run(frame, tmp_path):
    """Each launch of Lightning makes a new version_N; a folder of versions is one run resumed,
    ordered by N (version_10 after version_9), the later launch winning where steps overlap."""
    root = tmp_path / "ldm"
    first = frame[frame["step"] < 92000].copy()
    first.loc[first["step"] >= 90000, "train/rec_loss"] += 5.0          # the lost timeline
    write_lightning_run(root, first, version=9)
    write_lightning_run(root, frame[frame["step"] >= 90000], version=10)
    run = load_run(root / "csv")
    assert [s.format for s in run.segments] == ["lightning_csv"] * 2
    assert run.segments[0].source.endswith("version_9/metrics.csv")
    assert [r["step"] for r in run.resumes] == [90000]
    np.testing.assert_allclose(run.table["train/rec_loss"], frame["train/rec_loss"])


def test_wandb_run_folder(frame, tmp_path):
    run_dir = write_wandb_run(tmp_path / "wandb", frame)
    for source in (run_dir, tmp_path / "wandb", run_dir / "files" / "wandb-history.jsonl"):
        run = load_run(source)
        assert run.segments[0].format == "wandb_history"
        _check_training(run, frame)
        _check_validation(run, frame)
        assert run.config["disc_start"] == 50001          # {desc, value} unwrapped
        assert "_wandb" not in run.config["raw"]
    # trainer/global_step is the axis; _timestamp the time of the step's training call
    t = run.table["time"].to_numpy()
    assert np.nanmax(np.abs(t - frame["time"].to_numpy())) < 0.01
    assert "samples" not in run.table.columns            # an image is not a metric
    # watching the folder: the summary (last values, shaped like a history line) is no second
    # segment, so no resume appears at the last step
    from radiovae.runlog.follow import RunFollower

    summary = run_dir / "files" / "wandb-summary.json"
    summary.write_text(summary.read_text() + "\n")          # a complete line, as a reader sees it
    followed = RunFollower([run_dir]).poll()
    assert [s.format for s in followed.segments] == ["wandb_history"] and not followed.resumes


def test_wandb_history_names_its_skipped_lines(frame, tmp_path):
    """Lines of wandb-history.jsonl that are not calls, and calls without a usable step, are
    skipped, counted and named (line and why) as the other readers name theirs."""
    run_dir = write_wandb_run(tmp_path / "wandb", frame)
    history = run_dir / "files" / "wandb-history.jsonl"
    lines = history.read_text().splitlines()
    good = json.loads(lines[1])
    lines.insert(2, "garbage")
    lines.insert(5, json.dumps({"step": 7, "x": 1.0}))                        # no _step
    lines.insert(7, json.dumps({**good, "trainer/global_step": 1e20}))        # not a step
    lines.insert(9, json.dumps({k: v for k, v in good.items() if k != "trainer/global_step"}))
    lines[11] = lines[11][:-1] + ', "train/extra": ' + "9" * 400 + "}"        # 10**400: inf, said
    history.write_text("\n".join(lines) + "\n" + '{"_step": 99, "_times')   # cut last line
    run = load_run(run_dir)
    _check_training(run, frame)
    assert run.skipped_lines == 5 and run.note_count == 6        # + the value read as inf
    assert run.table["train/extra"].dropna().tolist() == [math.inf]
    named = [(n["line"], n["what"]) for n in run.notes]    # the first five by line
    assert named[:4] == [
        (3, "not JSON"),
        (6, "not a W&B history line (no _step with _timestamp or _runtime)"),
        (8, "step 1e+20 is not a whole number from 0 to 2^53"),
        (10, "a call with metrics but no trainer/global_step")]
    assert named[4][0] == 12 and named[4][1].startswith("'train/extra': 999") and named[4][1]\
        .endswith(" is beyond float range, read as inf") and len(named[4][1]) < 200
    assert all(n["source"] == str(history) for n in run.notes)


def test_wandb_csv_exports(frame, tmp_path):
    run = load_run(write_wandb_history_csv(tmp_path / "history.csv", frame))
    assert run.segments[0].format == "wandb_csv"
    _check_training(run, frame)
    _check_validation(run, frame)

    one = write_wandb_chart_csv(tmp_path / "chart.csv", {"vae-a": frame}, "train/rec_loss")
    run = load_run(one)
    np.testing.assert_allclose(run.table["train/rec_loss"], frame["train/rec_loss"])
    assert list(run.table.columns) == ["step", "time", "train/rec_loss"]

    two = write_wandb_chart_csv(tmp_path / "two.csv", {"vae-a": frame, "vae-b": frame},
                                "train/rec_loss")
    with pytest.raises(UserError, match="holds 2 runs"):
        load_run(two)


def test_wandb_binary_file_is_refused_clearly(tmp_path, capsys):
    run_dir = tmp_path / "run-20250815_204107-abc"
    run_dir.mkdir()
    (run_dir / "run-abc.wandb").write_bytes(b":W&B\x00\x01" + bytes(range(200)))
    for target in (run_dir, run_dir / "run-abc.wandb"):
        assert main(["report", str(target), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert "cannot be read offline" in err and err.count("\n") == 1


def test_mlflow_run(frame, tmp_path):
    mlruns = tmp_path / "mlruns"
    run_dir = write_mlflow_run(mlruns, frame, params={"lossconfig": {"disc_start": 50001}})
    with open(run_dir / "metrics" / "train" / "rec_loss", "a") as f:
        f.write("garbage line\n")
    for source in (run_dir, mlruns, mlruns / "1"):
        run = load_run(source)
        assert run.segments[0].format == "mlflow"
        _check_training(run, frame)
        _check_validation(run, frame)
        assert run.skipped_lines == 1
        assert run.config["disc_start"] == 50001          # params/lossconfig/disc_start
    np.testing.assert_allclose(run.table["time"], np.floor(frame["time"] * 1000) / 1000)
    assert not [f for f in summary_json(run)["findings"] if f["id"] == "non_finite"]

    write_mlflow_run(mlruns, frame, run_id="0123456789abcdef0123456789abcdef")
    with pytest.raises(UserError, match="holds 2 MLflow runs"):
        load_run(mlruns)


def test_stream_names():
    assert all(is_validation(n) for n in ("val/rec_loss", "val_ema/rec_loss", "val_loss",
                                          "validation/total", "test/psnr", "loss/val"))
    assert not any(is_validation(n) for n in ("train/rec_loss", "value", "interval",
                                              "train/d_weight", "eval_grid"))
    names = classify(["aeloss_step", "aeloss_epoch", "train/total_loss_step", "trainer/global_step",
                      "time_per_step", "val/rec_loss", "lr-Adam", "solo_epoch"])
    assert names.train == {"aeloss_step": "aeloss", "train/total_loss_step": "train/total_loss",
                           "trainer/global_step": "trainer/global_step",
                           "time_per_step": "time_per_step", "lr-Adam": "lr-Adam",
                           "solo_epoch": "solo_epoch"}
    assert names.epoch == ["aeloss_epoch"] and names.validation == ["val/rec_loss"]


def test_follower_rereads_a_rewritten_lightning_csv(frame, tmp_path):
    """Lightning rewrites metrics.csv in place (same inode, a wider header) when a new key is
    logged: the follower must read it again, not append the new bytes under the old header."""
    from radiovae.runlog.follow import RunFollower

    early = frame[frame["step"] < 50000].drop(columns=DISC)      # no discriminator keys yet
    vdir = write_lightning_run(tmp_path / "run", early)
    follower = RunFollower([vdir])
    assert "train/disc_loss" not in follower.poll().table.columns
    with open(vdir / "metrics.csv", "r+") as f:                   # rewritten in place
        f.write((write_lightning_run(tmp_path / "full", frame) / "metrics.csv").read_text())
    run = follower.poll()
    _check_training(run, frame)


def test_summary_reports_validation_apart(frame, tmp_path):
    run = load_run(write_lightning_run(tmp_path / "r", frame))
    val = {v["metric"]: v for v in summary_json(run)["validation"]}
    ends = epoch_ends(frame["step"].to_numpy(), EPOCH)
    rec = val["val/rec_loss"]
    assert rec["evaluations"] == len(ends) and rec["last_step"] == ends[-1]
    assert rec["last"] == pytest.approx(val_values(int(ends[-1]) // EPOCH)["val/rec_loss"])
    assert rec["lowest_step"] == ends[-1]        # val_values fall with the epoch
