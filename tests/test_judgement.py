"""The report's judgements, each case checked against the numbers it claims: the run's state,
too-short runs, trends that level off, causes read from the config, stage-2 readiness."""

from __future__ import annotations

import copy
import os
import re
import time

import numpy as np
import pytest
from helpers import finding_ids as _ids
from helpers import markdown as _md
from logfactory import (
    RADIODIFF_CONFIG,
    ldm_frame,
    ldm_steps_frame,
    write_console_capture,
    write_ldm_log,
    write_log,
)
from summaries import summary_json

from radiovae import load_run
from radiovae.analysis import analyze
from radiovae.analysis.readiness import BARS, readiness
from radiovae.analysis.schema import LastFifth, MetricStats, Summary, TrendTest, from_json


def _config(**trainer) -> dict:
    cfg = copy.deepcopy(RADIODIFF_CONFIG)
    cfg["trainer"].update(trainer)
    return cfg


# -- state -----------------------------------------------------------------------------------------
def test_real_csv_is_finished_by_its_plan_and_has_no_time_left(real_run_csv):
    s = summary_json(load_run(real_run_csv), total_steps=150000)
    st = s["state"]
    # RadioDiff logs steps 0, 100, ... below train_num_steps: 149,900 is the last of 150,000
    assert st["state"] == "finished" and st["basis"] == "plan" and st["last_plan_step"] == 149900
    assert s["time"]["eta_s"] is None
    md = _md(s)
    assert "left)" not in md and "**Finished:**" in md
    conf = " ".join(s["confidence"]["reasons"])
    assert "cover" not in conf and "%" not in conf


def test_training_complete_finishes_the_run_whatever_the_plan_says(real, tmp_path):
    log = write_console_capture(tmp_path / "out.txt", real)
    s = summary_json(load_run(log), total_steps=200000)          # records reach 75 % of this plan
    assert s["state"]["state"] == "finished" and s["state"]["basis"] == "end_marker"
    assert "training complete" in s["state"]["evidence"]
    (ready,) = [a for a in s["answers"] if a["id"] == "ready_for_stage2"]
    assert "finished" not in ready["evidence"]["failed"] and "reach" not in ready["text"]


def test_stopped_stage2_run_is_said_stopped_with_its_plateau(tmp_path):
    log = write_ldm_log(tmp_path / "train.log", ldm_frame(ldm_steps_frame(steps=29901)))
    s = summary_json(load_run(log))
    assert s["kind"] == "ldm" and s["state"]["state"] == "stopped"
    assert "29,900 of 50,000 (60 % of the plan)" in s["state"]["evidence"]
    assert s["time"]["eta_s"] is None and s["verdict"] == "attention"
    f = _ids(s)
    (stopped,) = f["stopped"]
    assert stopped["severity"] == "warning" and stopped["evidence"]["last_step"] == 29900
    # loss_simple: its medians over the second half barely move, so it has levelled off
    (plateau,) = f["plateau"]
    table = load_run(log).table
    y, step = table["loss_simple"].to_numpy(), table["step"].to_numpy()
    tail = y[step >= plateau["evidence"]["from_step"]]
    half = len(tail) // 2
    assert abs(np.median(tail[half:]) / np.median(tail[:half]) - 1) < 0.05
    assert plateau["severity"] == "info" and "flattens early by nature" in plateau["message"]
    m = s["metrics"]["loss_simple"]
    assert m["trend_test"]["levelled_since"] == plateau["evidence"]["from_step"]
    md = _md(s)
    assert "left)" not in md and "VAE-GAN" not in md and "decreasing, level since step" in md


def test_a_log_written_a_minute_ago_is_running_and_has_time_left(real, tmp_path):
    now = time.time()
    df = real.iloc[:300].copy()
    df["time"] = now - 60 - 18.3 * (len(df) - 1 - np.arange(len(df)))   # a record every 18 s
    log = write_log(tmp_path / "train.log", df)
    s = summary_json(load_run(log), now=now)
    assert s["state"]["state"] == "running" and s["state"]["basis"] == "recent_write"
    assert s["time"]["eta_s"] == pytest.approx((150000 - 64900) / s["time"]["recent_steps_per_s"])
    assert "stopped" not in _ids(s)
    # the same file, untouched for a day: stopped, no time left
    os.utime(log, (now - 86400, now - 86400))
    s = summary_json(load_run(log), now=now + 86400)
    assert s["state"]["state"] == "stopped" and s["time"]["eta_s"] is None
    # watch saw it grow: running, whatever the file times say
    s = summary_json(load_run(log), now=now + 86400, growing=True)
    assert s["state"]["state"] == "running" and s["state"]["basis"] == "watch"


def test_a_csv_export_that_ends_early_is_unknown(real, tmp_path):
    p = tmp_path / "export.csv"
    real.iloc[:500].to_csv(p, index=False)
    s = summary_json(load_run(p), total_steps=150000)
    assert s["state"]["state"] == "unknown" and "export" in s["state"]["evidence"]
    assert s["time"]["eta_s"] is None and "stopped" not in _ids(s)


# -- too short -------------------------------------------------------------------------------------
def test_a_four_step_smoke_run_is_too_short_and_answers_no_yes(real, tmp_path):
    log = write_log(tmp_path / "train.log", real.iloc[:4], total=35400,  # finished: its plan's
                    config=_config(train_num_steps=35400))                 # last step 35,300
    s = summary_json(load_run(log))
    assert s["state"]["state"] == "finished"
    assert s["verdict"] == "too_short" and "only 4 records" in s["verdict_reason"]
    assert s["judged_records"] == {"records": 4, "per_phase": {"vae": 4}, "min_records": 20,
                                   "too_short": True}
    assert not [a for a in s["answers"] if a["answer"] == "yes"]
    assert "Verdict: too short to judge." in _md(s)


def test_a_cause_from_the_config_still_raises_a_too_short_verdict(real, tmp_path):
    # accumulation 1: the discriminator will never be stepped, however few the records
    cfg = _config(gradient_accumulate_every=1, train_num_steps=36000)
    cfg["model"]["lossconfig"]["disc_start"] = 35501     # the plan reaches the VAE-GAN phase
    log = write_log(tmp_path / "train.log", real.iloc[:10], config=cfg, total=36000)
    s = summary_json(load_run(log))
    assert s["state"]["state"] == "finished"
    assert s["verdict"] == "attention" and "too few" in s["verdict_reason"]
    assert "discriminator_untrained" in s["verdict_reason"]
    (d,) = _ids(s)["discriminator_untrained"]
    assert d["evidence"]["from_config"] and d["evidence"]["cause"] == "accumulation_one"


# -- causes ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("writer", ["file", "console"])
def test_accumulation_one_is_the_stated_cause_in_every_format(real, tmp_path, writer):
    cfg = _config(gradient_accumulate_every=1)
    path = (write_log(tmp_path / "train.log", real, config=cfg) if writer == "file" else
            write_console_capture(tmp_path / "out.txt", real, config=cfg))
    s = summary_json(load_run(path))
    (cause,) = [c for c in s["causes"] if c["id"] == "accumulation_one"]
    assert cause["config_evidence"] == {"gradient_accumulate_every": 1}
    assert cause["record_evidence"]["discriminator_terms_logged"] is False
    (d,) = _ids(s)["discriminator_untrained"]
    assert d["severity"] == "warning" and d["evidence"]["cause"] == "accumulation_one"
    assert "most likely" not in d["message"] and "gradient_accumulate_every = 1" in d["message"]
    assert s["verdict"] == "attention"
    (a,) = [x for x in s["answers"] if x["id"] == "discriminator_working"]
    assert a["answer"] == "no" and "accumulation index 1" in a["text"]


def test_logvar_frozen_by_design_is_info_and_a_warning_only_where_meant_to_train(real,
                                                                                   tmp_path):
    s = summary_json(load_run(write_log(tmp_path / "a.log", real)))
    (f,) = _ids(s)["frozen_metric"]
    assert f["severity"] == "info" and f["evidence"]["cause"] == "logvar_by_design"
    assert f["recommendation"] is None
    assert not [x for x in s["findings"] if x["severity"] != "info" and "logvar" in x["message"]]
    cfg = _config(train_logvar=True)          # radiovae's key: the run meant to learn it
    s = summary_json(load_run(write_log(tmp_path / "b.log", real, config=cfg)))
    (f,) = _ids(s)["frozen_metric"]
    assert f["severity"] == "warning" and f["evidence"]["cause"] == "logvar_meant_to_train"


def test_min_lr_floors_the_factor_and_the_last_lr_it_implies(real, tmp_path):
    s = summary_json(load_run(write_log(tmp_path / "train.log", real)))
    (c,) = [c for c in s["causes"] if c["id"] == "lr_schedule"]
    expected = 5e-6 * max((1 - 149900 / 150000) ** 0.95, 5e-7)
    assert c["record_evidence"]["implied_lr_at_last_step"] == pytest.approx(expected)
    assert "floor is 2.5e-12" in c["text"] and "not 5e-07" in c["text"]


def test_d_weight_rule_names_its_cap(real, tmp_path):
    s = summary_json(load_run(write_log(tmp_path / "train.log", real)))
    (c,) = [c for c in s["causes"] if c["id"] == "d_weight_rule"]
    assert c["config_evidence"]["cap"] == pytest.approx(5000.0)     # 1e4 x disc_weight 0.5


def test_command_line_disc_start_is_configuration_everywhere(real_run_csv):
    s = summary_json(load_run(real_run_csv), disc_start=50001)
    assert s["config"]["disc_start"] == 50001
    (c,) = [c for c in s["concerns"] if c["id"] == "disc_start"]
    assert c["answer"] == "yes" and "50,001" in c["text"]
    md = _md(s)
    assert "no configured disc_start" not in md and "could not be checked" not in md.split(
        "disc_start")[0][-200:]


# -- trends ----------------------------------------------------------------------------------------
def test_changes_come_from_window_medians_not_the_last_record(real_run_csv):
    s = summary_json(load_run(real_run_csv))
    table = load_run(real_run_csv).table
    for name in ("train/g_loss", "train/d_weight"):
        y = table[name].to_numpy()
        w = len(y) // 10
        m = s["metrics"][name]
        assert m["change_abs"] == pytest.approx(np.median(y[-w:]) - np.median(y[:w]))
    # d_weight's medians sit at the cap 5,000 at both ends: no change, whatever the last record
    assert s["metrics"]["train/d_weight"]["change_pct"] == 0
    assert s["metrics"]["train/disc_factor"]["trend"] == "step"   # a switch, never smoothed
    assert s["metrics"]["train/disc_factor"]["last_smoothed"] == 1


# -- readiness -------------------------------------------------------------------------------------
def _ready_summary(**ev) -> Summary:
    """A finished run whose rec_loss levelled off, with ``ev`` as its evaluation (none if empty);
    every other part empty."""
    return from_json(Summary, {
        "state": {"state": "finished", "evidence": "done."}, "judged_records": {}, "steps": {},
        "records": 0, "time": {}, "phases": [], "segments": [], "resumes": [], "config": {},
        "config_sources": {}, "causes": [], "findings": [], "verdict": "healthy",
        "verdict_reason": "", "skipped_lines": 0, "read_notes": [], "read_note_count": 0,
        "end": None, "kind": "vae", "roles": {}, "checkpoints": None, "log_gap": 1,
        "smoothing": {"method": "EMA", "weight": 0.6}, "loss": {}, "discriminator": {},
        "switch": None, "validation": [],
        "metrics": {"rec": {"trend": "decreasing", "trend_test": {"levelled_since": 9000},
                            "start_median": 0.1, "end_median": 0.01}},
        "evaluation": ev or None, "run_dir": "runs/x"})


def test_readiness_is_yes_only_when_every_part_holds():
    good = {"psnr": 40.0, "nmse": 0.002, "ssim": 0.97, "scale_factor": 0.5,
            "latent": {"channel_mean": [0.1, -0.2, 0.0], "channel_std": [2.0, 1.8, 2.2]}}
    r = readiness(_ready_summary(**good), "rec")
    assert r["answer"] == "yes" and not r["failed"] and not r["missing"]
    # the demo's latents: one scale_factor leaves channel 1 far from unit variance
    demo = {**good, "psnr": 30.15, "scale_factor": 0.17,
            "latent": {"channel_mean": [-0.33, -3.90, 0.01], "channel_std": [6.2, 3.1, 7.0]}}
    r = readiness(_ready_summary(**demo), "rec")
    assert r["answer"] == "no" and set(r["failed"]) == {"psnr", "latent"}
    text = " ".join(p["text"] for p in r["parts"])
    assert "PSNR 30.1 (bar ≥ 38" in text and "channel(s) 1 far from unit variance" in text and "arXiv 2501.19160" in text
    assert {b.metric for b in BARS} == {"psnr", "nmse", "ssim"}
    # a reconstruction loss still falling at the end is not ready, whatever the evaluation says
    s = _ready_summary(**good)
    s.metrics["rec"] = MetricStats(trend="decreasing", trend_test=TrendTest(levelled_since=None),
                                   start_median=0.1, end_median=0.05)
    assert readiness(s, "rec")["failed"] == ["levelled"]
    # no evaluation: unclear, with the command that supplies it
    r = readiness(_ready_summary(), "rec")
    assert r["answer"] == "unclear" and "radiovae eval --checkpoint runs/x" in r["how"]


# -- at a glance -----------------------------------------------------------------------------------
def test_executive_summary_is_at_most_five_short_lines(real_run_csv):
    md = _md(summary_json(load_run(real_run_csv)))
    part = md.split('<a id="summary"></a>')[1].split("<a id=")[0]
    lines = [x for x in part.splitlines() if x.strip() and not x.startswith("#")]
    assert 2 <= len(lines) <= 5
    for line in lines[2:]:
        words = re.sub(r"\*\*[^*]+\*\*", "", line).split()
        assert len(words) <= 45, line


# -- consistency of the logged terms -------------------------------------------------------------
def test_g_loss_and_logits_fake_from_different_passes_are_flagged(real, tmp_path):
    from logfactory import with_disc_terms

    # the synthetic discriminator line: logits_fake ~ -0.1, while the real run's g_loss ~ -0.45
    # implies a mean fake logit of +0.45 -- the two cannot come from one discriminator pass
    s = summary_json(load_run(write_log(tmp_path / "a.log", with_disc_terms(real))))
    (f,) = _ids(s)["terms_disagree"]
    table = load_run(tmp_path / "a.log").table
    on = table["step"] >= 50100
    gap = np.median((table["train/g_loss"] + table["train/logits_fake"])[on])
    assert f["evidence"]["median_sum"] == pytest.approx(gap) and abs(gap) > 0.5
    # a consistent pair (g_loss = -logits_fake + small noise) raises nothing
    df = with_disc_terms(real, learning=True)
    rng = np.random.default_rng(1)
    df["train/g_loss"] = np.where(df["train/disc_factor"] > 0,
                                  -df["train/logits_fake"] + 0.01 * rng.standard_normal(len(df)),
                                  df["train/g_loss"])
    s = summary_json(load_run(write_log(tmp_path / "b.log", df)))
    assert "terms_disagree" not in _ids(s)


def test_stage2_total_is_the_running_sum_of_its_accumulation_passes(tmp_path):
    log = write_ldm_log(tmp_path / "train.log", ldm_frame(ldm_steps_frame(steps=5001)))
    s = summary_json(load_run(log))
    table = load_run(log).table
    ratio = np.median(table["total_loss"] / table["loss_simple"])
    assert s["loss"]["total_over_simple"] == pytest.approx(ratio)
    assert s["loss"]["running_sum_factor"] == 4.5 and s["loss"]["matches_running_sum"]
    assert "(8 + 1) / 2 = 4.5" in _md(s)


def test_learning_concern_names_the_untrained_discriminator(real, tmp_path):
    cfg = _config(gradient_accumulate_every=1)
    s = summary_json(load_run(write_log(tmp_path / "train.log", real, config=cfg)))
    (c,) = [c for c in s["concerns"] if c["id"] == "learning"]
    assert c["answer"] == "no" and "discriminator does not learn" in c["text"]
    assert "by design" in c["text"]                     # logvar, said as what it is


def test_a_log_that_its_config_could_not_have_written_is_noted(real, tmp_path):
    # gradient_accumulate_every 2 logs a discriminator line per logged step, from step 0 on
    s = summary_json(load_run(write_log(tmp_path / "a.log", real.iloc[:200])))
    (f,) = _ids(s)["config_mismatch"]
    assert f["severity"] == "info" and f["evidence"] == {"gradient_accumulate_every": 2,
                                                         "records": 200}
    from logfactory import with_disc_terms
    s = summary_json(load_run(write_log(tmp_path / "b.log", with_disc_terms(real.iloc[:200]))))
    assert "config_mismatch" not in _ids(s)


def test_readiness_does_not_fail_on_a_drift_it_cannot_tell_from_noise():
    s = _ready_summary()
    s.metrics["rec"] = MetricStats(trend="decreasing", trend_test=TrendTest(
        levelled_since=None, last_fifth=LastFifth(records=230, p=0.052, change_pct=-11.3)))
    r = readiness(s, "rec")
    (part,) = [p for p in r["parts"] if p["part"] == "levelled"]
    assert part["holds"] is None and "not significant" in part["text"]
    s.metrics["rec"].trend_test.last_fifth.p = 0.01
    (part,) = [p for p in readiness(s, "rec")["parts"] if p["part"] == "levelled"]
    assert part["holds"] is False and "-11.3 %" in part["text"]


def test_compare_says_when_two_runs_are_copies(real, tmp_path):
    from radiovae.analysis.compare import Entry, compare

    a = load_run(write_log(tmp_path / "a" / "train.log", real))
    b = load_run(write_log(tmp_path / "b" / "train.log", real, config=_config(
        gradient_accumulate_every=1)))
    c = compare([Entry("a", a, analyze(a)), Entry("b", b, analyze(b))]).to_json()
    assert c["identical"] == [{"runs": ["a", "b"], "steps": 1150, "metrics": 9}]
    # the lowest value is given for the reconstruction losses only, never the (negative) total
    keys = {s["key"] for s in c["series"] if s["lower_is_better"]}
    assert "total" not in keys and {"rec", "nll"} <= keys
