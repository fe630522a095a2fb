"""Real-world log shapes: RadioDiff console captures, stage-2 (train_cond_ldm.py) logs, Run.kind."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from logfactory import (
    LDM_CONFIG,
    console_capture,
    ldm_frame,
    ldm_steps_frame,
    with_disc_terms,
    write_console_capture,
    write_ldm_log,
    write_log,
    write_radiodiff_logs,
)

from radiovae import load_run
from radiovae.runlog.kind import detect_kind
from radiovae.runlog.load import detect_format
from radiovae.runlog.radiodiff_log import parse_radiodiff


def _same_records(a, b):
    """Two reads of one run: the same rows and values; only a file log knows the time."""
    pd.testing.assert_frame_equal(a.table.drop(columns="time"), b.table.drop(columns="time"))
    assert a.config == b.config
    strip = [{k: v for k, v in r.items() if k not in ("time", "gap_s", "source")} for r in a.resumes]
    assert strip == [{k: v for k, v in r.items() if k not in ("time", "gap_s", "source")}
                     for r in b.resumes]


def test_console_capture_of_the_real_run_reads_like_its_file_log(real, tmp_path):
    # the real run: gradient_accumulate_every 1, so one (generator) line per logged step
    cap = write_console_capture(tmp_path / "out.txt", real)
    log = write_log(tmp_path / "train.log", real, noise_every=0)
    text = cap.read_bytes()
    assert b"\r" in text and b"it/s][Train Step] 35100/150000: " in text   # glued to the bar
    assert b"  23%|" not in text.split(b"\n")[0]                              # cfg dict first
    assert detect_format(cap) == "radiodiff_log"
    a, b = load_run(cap), load_run(log)
    _same_records(a, b)
    assert len(a.table) == len(real) == 1150
    assert np.isnan(a.table["time"]).all()          # bare messages: no time, and nothing invented
    assert a.table.drop(columns="time").notna().all().all()   # absent is not NaN: nothing absent
    assert a.kind == b.kind == "vae"
    last = a.table.iloc[-1]
    assert last["step"] == 149900 and last["train/total_loss"] == -433.2644
    assert a.config["disc_start"] == 50001 and a.config["total_steps"] == 150000


def test_console_capture_with_both_lines_a_bar_per_step_and_stdout_chunks(real, tmp_path):
    df = with_disc_terms(real.iloc[140:180].reset_index(drop=True))   # across disc_start
    # a redraw every step (RadioDiff at ~5 it/s), DEBUG prints every record in 64-byte chunks cut
    # anywhere (block-buffered stdout), both lines of a step (gradient_accumulate_every 2)
    text = console_capture(df, bars_per_record=100, debug_every=1, stdout_buffer=64)
    assert text.count("\r") > 3900
    assert "DEBUG: step" in text and "[Train Step]" in text
    glued = [ln for ln in text.split("\n") if "DEBUG" in ln and "[Train Step]" in ln]
    assert glued, "the stdout chunks must land inside stderr's lines for this test to mean much"
    a = parse_radiodiff(text.encode())
    b = parse_radiodiff("\n".join(_file_lines(df)).encode() + b"\n")
    pd.testing.assert_frame_equal(a.table.drop(columns="time"), b.table.drop(columns="time"))
    assert list(a.table.columns) == list(b.table.columns)
    # and both are the values written, as printed ({:.5f})
    cols = [c for c in df.columns if c not in ("step", "time")]
    assert a.table["step"].tolist() == df["step"].tolist()
    np.testing.assert_allclose(a.table[cols].to_numpy(), df[cols].to_numpy(), rtol=0, atol=5e-6)
    assert a.records == b.records == 2 * len(df)


def _file_lines(df):
    from logfactory import log_lines
    return log_lines(df)


def test_console_captures_of_a_crash_and_its_resume_read_like_the_file_logs(real, tmp_path):
    logs = write_radiodiff_logs(None, tmp_path / "logs", frame=real.iloc[:200].reset_index(drop=True),
                                resume_step=45000, overlap_steps=1000, cut_last=False,
                                noise_every=0)
    from radiovae.runlog.radiodiff_log import parse_radiodiff as parse
    caps = []
    for k, log in enumerate(logs):
        rec = parse(log.read_bytes())
        frame = rec.table.copy()
        caps.append(write_console_capture(tmp_path / f"out{k}.txt", frame, crashed=(k == 0)))
    a, b = load_run(caps), load_run(logs)
    _same_records(a, b)
    assert [r["step"] for r in a.resumes] == [45000]
    assert a.resumes[0]["overlap_steps"] == 10
    # the later capture won the overlap (the lost timeline had +1000 on the total loss)
    row = a.table.set_index("step").loc[45500]
    assert row["train/total_loss"] == real.set_index("step").loc[45500, "train/total_loss"]
    assert caps[0].read_bytes().endswith(b"it/s]")   # killed: the bar never got its newline


def test_stage2_log_parses_and_is_an_ldm_run(tmp_path):
    every = ldm_steps_frame(steps=20001)
    df = ldm_frame(every)
    log = write_ldm_log(tmp_path / "ldm.log", df)
    run = load_run(log)
    assert run.kind == "ldm"
    assert list(run.table.columns) == ["step", "time", "loss_simple", "loss_vlb", "total_loss", "lr"]
    assert run.table["step"].tolist() == list(range(0, 20001, 100))
    np.testing.assert_allclose(run.table["loss_simple"], df["loss_simple"], atol=5e-6)
    assert (run.table["loss_vlb"] == 0).all()        # RadioDiff's const-SDE model returns 0
    # lr printed with {:.5f}: 5e-05 at the start, rounded as the schedule decays
    np.testing.assert_allclose(run.table["lr"], np.round(df["lr"], 5), atol=1e-12)
    assert run.config["total_steps"] == 50000 and run.config["lr"] == 5e-05
    assert run.config["gradient_accumulate_every"] == 8
    assert "disc_start" not in run.config            # the first stage's loss is not this run's
    assert run.config["raw"]["model"]["first_stage"]["ckpt_path"].endswith("model-29.pt")
    assert run.config["raw"]["finetune"]["ckpt_path"] is None
    assert run.skipped_lines == 0                    # the CfgNode dump is the config, not noise
    assert np.isfinite(run.table["time"]).all()


def test_stage2_console_capture_reads_like_its_file_log(tmp_path):
    every = ldm_steps_frame(steps=5001)
    df = ldm_frame(every)
    cap = write_console_capture(tmp_path / "out.txt", df, total=50000, config=LDM_CONFIG,
                                ldm_steps=every, bars_per_record=20)
    text = cap.read_text(encoding="utf-8")
    described = {int(m) for m in re.findall(r"\[Train Step\] (\d+)/50000: ", text)}
    assert {s % 100 for s in described} != {0}        # bars describe steps that are not logged
    a, b = load_run(cap), load_run(write_ldm_log(tmp_path / "ldm.log", df))
    _same_records(a, b)
    assert a.kind == "ldm" and a.table["step"].tolist() == list(range(0, 5001, 100))


@pytest.mark.parametrize(("metrics", "config", "kind"), [
    (["train/total_loss", "train/kl_loss", "train/rec_loss", "lr"], None, "vae"),
    (["total_loss", "kl_loss", "rec_loss", "Learning_Rate"], None, "vae"),    # RadioDiff's TB tags
    (["train/loss_simple", "train/loss_vlb", "train/loss", "lr"], None, "ldm"),  # latent-diffusion
    (["loss_simple", "loss_vlb", "total_loss", "lr"], None, "ldm"),
    (["loss", "accuracy", "lr"], None, "unknown"),
    (["loss", "lr"], {"raw": {"model": {"first_stage": {}, "unet": {}}}}, "ldm"),
    (["loss", "lr"], {"raw": {"model": {"lossconfig": {"disc_start": 1}}}}, "vae"),
    (["loss_simple", "kl_loss"], None, "unknown"),
])
def test_detect_kind(metrics, config, kind):
    assert detect_kind(metrics, config) == kind


def test_a_csv_of_neither_kind_is_unknown(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("step,loss,accuracy\n0,1.0,0.1\n10,0.5,0.5\n20,0.4,0.6\n")
    assert load_run(p).kind == "unknown"


@pytest.mark.parametrize(("values", "decimals"), [
    ([1916.70959, -0.44393, 143662.89062, 0.0, 5000.0], 5),     # RadioDiff's {:.5f}
    ([0.0, 1.0, 5000.0], 0),
    ([3.906172837e-06, 0.1], None),                             # a real lr: full precision
    ([np.float32(0.02924).item(), 1.0], None),                  # TensorBoard's float32
    ([np.nan, np.inf, 0.125], 3),                               # non-finite values say nothing
])
def test_print_decimals(values, decimals):
    from radiovae.runlog.precision import print_decimals

    table = pd.DataFrame({"step": range(len(values)), "time": np.nan, "x": values})
    assert print_decimals(table) == decimals


def test_absent_is_not_nan_in_every_reader(tmp_path):
    """Each reader says which NaN cells the records wrote as NaN; a value never written (a
    discriminator line a crash cut off, an empty CSV cell, a missing JSON key or TensorBoard tag)
    is absent, not non-finite."""
    from runformats import write_jsonl, write_tensorboard

    from radiovae.runlog.tabular import parse_csv

    df = pd.DataFrame({"step": [0, 100, 200, 300], "time": 1.7e9 + np.arange(4) * 18.0,
                       "train/total_loss": [3.0, np.nan, 2.0, 1.5],
                       "train/disc_loss": [1.0, 0.9, 0.8, 0.7], "lr": 5e-5})
    # RadioDiff file log: step 100 writes nan; step 300's discriminator line never came
    lines = _file_lines(df.assign(**{"train/logits_real": 0.1, "train/logits_fake": -0.1}))
    log = tmp_path / "train.log"
    log.write_text("\n".join(lines[:-1]) + "\n")
    run = load_run(log)
    assert np.isnan(run.table.set_index("step").loc[300, "train/disc_loss"])      # absent
    assert {k: v.tolist() for k, v in run.nan_steps.items()} == {"train/total_loss": [100]}
    # console capture of the same: bars and glued records do not change it
    cap = write_console_capture(tmp_path / "out.txt", df, total=1000, config=None)
    assert {k: v.tolist() for k, v in load_run(cap).nan_steps.items()} == {"train/total_loss": [100]}
    # JSONL: a NaN token vs a missing key
    j = write_jsonl(df, tmp_path / "m.jsonl")
    text = j.read_text().splitlines()
    text[3] = text[3].replace(', "train/disc_loss": 0.7', "")
    j.write_text("\n".join(text) + "\n")
    run = load_run(j)
    assert np.isnan(run.table["train/disc_loss"].iloc[3])
    assert {k: v.tolist() for k, v in run.nan_steps.items()} == {"train/total_loss": [100]}
    # CSV: "nan" vs an empty cell
    rec = parse_csv(b"step,a,b\n0,1.0,nan\n1,,2.0\n2,NaN,3.0\n")
    assert {k: v.tolist() for k, v in rec.nan_steps.items()} == {"a": [2], "b": [0]}
    assert np.isnan(rec.table["a"].iloc[1])
    # TensorBoard: a NaN value vs a tag not written at a step
    tb = write_tensorboard(df, tmp_path / "tb")
    assert {k: v.tolist() for k, v in load_run(tb).nan_steps.items()} == {"train/total_loss": [100]}


@pytest.mark.parametrize("row", [10, 501])     # inside / outside the lines the fast path samples
def test_written_nans_of_a_long_log(real, tmp_path, row):
    df = with_disc_terms(real)
    df.loc[df.index[row], "train/rec_loss"] = np.nan
    log = write_log(tmp_path / "train.log", df.iloc[:-1], noise_every=0)
    last = _file_lines(df.iloc[-1:])[0]                       # generator line only: a crash
    log.write_text(log.read_text() + last + "\n")
    run = load_run(log)
    assert {k: v.tolist() for k, v in run.nan_steps.items()} == {
        "train/rec_loss": [int(df["step"].iloc[row])]}
    assert run.table[["train/disc_loss", "train/logits_real"]].iloc[-1].isna().all()
