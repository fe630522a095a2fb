"""Analysis of the real RadioDiff run (as CSV and as split text logs) and of planted failures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import finding_ids as ids
from logfactory import (
    plant_divergence,
    plant_nan,
    plant_spike,
    write_csv,
    write_single_log,
)
from summaries import summary_json

from radiovae import load_run
from radiovae.analysis.stats import trend
from radiovae.runlog.run import Run


@pytest.fixture(scope="module")
def log_summary(real_logs) -> dict:
    return summary_json(load_run(real_logs))


def test_summary_shape_is_the_contract(real_summary):
    s = real_summary
    json.dumps(s, allow_nan=False)                     # strict JSON: non-finite -> null
    assert set(s) >= {"steps", "records", "time", "metrics", "phases", "segments", "resumes",
                      "config", "findings", "verdict", "verdict_reason", "skipped_lines",
                      "evaluation"}
    assert set(s["steps"]) == {"first", "last", "planned", "progress"}
    assert set(s["time"]) >= {"start", "end", "elapsed_s", "steps_per_s", "eta_s"}
    for m in s["metrics"].values():
        assert set(m) >= {"first", "last", "min", "max", "mean", "change_pct", "trend",
                          "stability_cv", "n_nonfinite", "status"}
        assert m["trend"] in ("decreasing", "increasing", "flat", "mixed", "step")
        assert m["status"] in ("ok", "info", "warning", "critical")
    for f in s["findings"]:
        assert set(f) == {"id", "severity", "metric", "message", "evidence", "steps", "span",
                          "recommendation"}
        assert f["severity"] in ("info", "warning", "critical") and f["message"]
    assert "raw" not in s["config"]


@pytest.mark.parametrize("which", ["real_summary", "log_summary"])
def test_real_run_facts(which, request):
    s = request.getfixturevalue(which)
    assert s["steps"] == {"first": 35000, "last": 149900, "planned": 150000,
                          "progress": pytest.approx(149900 / 150000)}
    assert s["records"] == 1150
    vae, gan = s["phases"]
    assert (vae["name"], vae["start_step"], vae["end_step"]) == ("vae", 35000, 50000)
    assert (gan["name"], gan["start_step"], gan["end_step"]) == ("vae_gan", 50100, 149900)
    f = ids(s)
    (pc,) = f["phase_change"]
    assert pc["evidence"]["last_vae_step"] == 50000 and pc["evidence"]["first_vae_gan_step"] == 50100
    (sat,) = f["weight_saturated"]
    assert sat["metric"] == "train/d_weight" and sat["evidence"]["value"] == 5000
    # pinned by RadioDiff's own design (the NLL summed over 65,536 pixels): info, its cause said
    assert sat["evidence"]["share"] > 0.95 and sat["severity"] == "info"
    assert sat["evidence"]["cause"] == "d_weight_rule" and "RadioDiff's own rule does this" in sat["message"]
    frozen = {x["metric"]: x for x in f["frozen_metric"]}
    assert set(frozen) == {"train/logvar"} and frozen["train/logvar"]["evidence"]["value"] == 0.0
    (lr,) = f["lr_zero"]
    assert lr["metric"] == "lr" and lr["evidence"]["zero_rows"] == 1150
    (neg,) = f["negative_total_loss"]
    assert neg["severity"] == "info" and neg["evidence"]["explained_share"] >= 0.95
    assert neg["evidence"]["first_step"] == 50100
    sample = neg["evidence"]["samples"][0]
    assert sample["recomputed_total"] == pytest.approx(sample["total"], abs=0.1)
    for absent in ("non_finite", "spike", "divergence"):   # no false alarms on the real run
        assert absent not in f, f.get(absent)
    assert s["verdict"] == "attention" and "discriminator_untrained" in s["verdict_reason"]
    m = s["metrics"]
    assert m["train/total_loss"]["last"] == pytest.approx(-433.2644)
    assert m["train/kl_loss"]["last"] == pytest.approx(161259.90625)
    assert m["train/rec_loss"]["last"] == pytest.approx(0.00888)
    assert m["train/rec_loss"]["trend"] == "decreasing"
    # logvar at 0 is RadioDiff's design (left out of the optimizer): info, with its cause
    # rec_loss still falls at the end (about -12 % over its last 25k steps, Mann-Kendall p < 0.05)
    assert m["train/logvar"]["status"] == "info" and m["train/rec_loss"]["status"] == "ok"
    assert "plateau" not in f and m["train/rec_loss"]["trend_test"]["levelled_since"] is None
    (logvar,) = [c for c in s["causes"] if c["id"] == "logvar_by_design"]
    assert "frozen_metric" in logvar["explains"] and logvar["record_evidence"]["rows"] == 1150
    assert all(v["n_nonfinite"] == 0 for v in m.values())
    assert s["time"]["steps_per_s"] == pytest.approx(5.45, rel=0.02)


def test_real_run_discriminator_never_trained(real_summary, log_summary):
    """The real run has no discriminator terms after the switch and g_loss does not move: the
    discriminator was never stepped (RadioDiff's train_vae.py with gradient_accumulate_every 1)."""
    (d,) = ids(real_summary)["discriminator_untrained"]
    assert d["severity"] == "warning" and d["metric"] == "train/g_loss"
    assert d["evidence"]["vae_gan_rows"] == 999 and d["evidence"]["first_step"] == 50100
    assert abs(d["evidence"]["g_loss_shift_in_mads"]) < 2
    # these logs carry (synthetic) discriminator lines: at chance for 100k steps (disc_loss ~1,
    # a logit gap ~0.1 that does not widen): not learning, judged from its own terms
    (d,) = ids(log_summary)["discriminator_untrained"]
    assert d["metric"] == "train/disc_loss" and abs(d["evidence"]["disc_loss_median"] - 1) < 0.05
    assert d["evidence"]["logit_gap_median_second_half"] <= d["evidence"]["logit_gap_median"] + 0.02


def test_discriminator_untrained_names_the_accumulation_defect(real, tmp_path):
    import copy

    from logfactory import RADIODIFF_CONFIG, write_log

    config = copy.deepcopy(RADIODIFF_CONFIG)
    config["trainer"]["gradient_accumulate_every"] = 1
    s = summary_json(load_run(write_log(tmp_path / "train.log", real, config)))
    (d,) = ids(s)["discriminator_untrained"]
    assert d["severity"] == "warning" and d["evidence"]["gradient_accumulate_every"] == 1
    assert "accumulation index" in d["message"]
    # without the config and with g_loss moving after the switch, there is no evidence either way
    moving = real.copy()
    gan = moving["train/disc_factor"] > 0
    moving.loc[gan, "train/g_loss"] = np.linspace(-0.5, 2.0, int(gan.sum()))
    s = summary_json(load_run(write_log(tmp_path / "moving.log", moving, None)))
    (d,) = ids(s)["discriminator_untrained"]
    assert d["severity"] == "info" and "cannot be judged" in d["message"]


def test_lr_zero_same_severity_as_csv_and_as_log_missing_config_lowers_confidence(
        real_summary, log_summary):
    (lr,) = ids(real_summary)["lr_zero"]
    (lr_log,) = ids(log_summary)["lr_zero"]
    assert lr["severity"] == lr_log["severity"] == "info"
    assert "Print precision explains it" in lr["message"] and "could not be checked" in lr["message"]
    conf = real_summary["confidence"]
    assert conf["could_not_check"] and "no config in the records" in conf["reasons"]
    assert not log_summary["confidence"]["could_not_check"]
    # the concerns answer says what the finding says: no second opinion
    (c,) = [c for c in real_summary["concerns"] if c["id"] == "lr"]
    assert lr["message"] in c["text"] and "cannot be ruled out" not in c["text"]


def test_logs_with_config_explain_lr_zero_and_resume(log_summary):
    f = ids(log_summary)
    (lr,) = f["lr_zero"]
    assert lr["severity"] == "info" and lr["evidence"]["predicted_lr_printed"] == "0.00000"
    (resumed,) = f["resumed"]
    assert resumed["evidence"]["step"] == 90000 and resumed["evidence"]["overlap_steps"] == 20
    assert f["phase_change"][0]["evidence"]["configured_start"] == 50001
    assert f["phase_change"][0]["severity"] == "info"
    assert [seg["first_step"] for seg in log_summary["segments"]] == [35000, 90000]
    assert log_summary["time"]["gaps"] and log_summary["time"]["active_s"] < \
        log_summary["time"]["elapsed_s"]


def test_overrides(real_run_csv):
    s = summary_json(load_run(real_run_csv), total_steps=200000, disc_start=50001)
    assert s["steps"]["planned"] == 200000 and s["steps"]["progress"] == pytest.approx(0.7495)
    assert s["phases"][1]["configured_start"] == 50001
    # the command line's numbers are configuration, said once, and used by every judgement
    assert s["config"]["disc_start"] == 50001 and s["config_sources"]["disc_start"] == "command line"
    assert not any("no configured disc_start" in c["text"] for c in s["concerns"])
    # a CSV export cannot say whether training went on after step 149,900: no time left claimed
    assert s["state"]["state"] == "unknown" and "export" in s["state"]["evidence"]
    assert s["time"]["eta_s"] is None


def _nan_csv(df: pd.DataFrame, path) -> object:
    """A CSV whose NaN cells say ``nan`` (an empty cell is a value not written: absent)."""
    df.to_csv(path, index=False, na_rep="nan")
    return path


def test_isolated_nan_is_a_warning_persisting_nan_is_critical(real, tmp_path):
    df = plant_nan(real, "train/rec_loss", 100000)
    s = summary_json(load_run(_nan_csv(df, tmp_path / "nan.csv")))
    (nf,) = ids(s)["non_finite"]
    assert nf["metric"] == "train/rec_loss" and nf["evidence"]["first_step"] == 100000
    assert nf["severity"] == "warning" and s["verdict"] == "attention"
    assert "skipped step" in nf["message"] and nf["steps"] == [100000]
    assert s["metrics"]["train/rec_loss"]["status"] == "warning"
    # an empty CSV cell is a value never written: absent, not non-finite
    s = summary_json(load_run(write_csv(df, tmp_path / "absent.csv")))
    assert "non_finite" not in ids(s) and s["metrics"]["train/rec_loss"]["n_nonfinite"] == 0
    persisting = real.copy()
    persisting.loc[persisting["step"] >= 140000, "train/rec_loss"] = np.nan
    s = summary_json(load_run(_nan_csv(persisting, tmp_path / "nan_end.csv")))
    (nf,) = ids(s)["non_finite"]
    assert nf["severity"] == "critical" and nf["evidence"]["to_the_end"] and s["verdict"] == "failing"
    off_trend = plant_nan(real, "train/rec_loss", 100000)
    off_trend.loc[off_trend["step"] > 100000, "train/rec_loss"] *= 20
    s = summary_json(load_run(_nan_csv(off_trend, tmp_path / "nan_off.csv")))
    assert [x["severity"] for x in ids(s)["non_finite"]] == ["critical"]
    # the same NaN written by RadioDiff's logger ("nan") survives the text path
    s2 = summary_json(load_run(write_single_log(None, tmp_path / "nan.log", frame=df)))
    assert ids(s2)["non_finite"][0]["steps"] == [100000]


def test_planted_spike_is_found_at_its_step(real, tmp_path):
    df = plant_spike(real, "train/rec_loss", 100000, factor=20)
    s = summary_json(load_run(write_csv(df, tmp_path / "spike.csv")))
    spikes = {x["metric"]: x for x in ids(s)["spike"]}
    assert spikes["train/rec_loss"]["evidence"]["spikes"][0]["step"] == 100000
    assert spikes["train/rec_loss"]["evidence"]["count"] == 1
    assert "divergence" not in ids(s)
    assert "train/total_loss" not in spikes   # the total did not move: nothing to say about it


def test_planted_spike_on_the_total_is_found(real, tmp_path):
    # 50x at step 80,000, in the VAE-GAN phase where the total is negative (about -1.3k -> -65k):
    # no logged term explains it
    df = plant_spike(real, "train/total_loss", 80000, factor=50)
    assert df.loc[df["step"] == 80000, "train/total_loss"].item() < -20000
    s = summary_json(load_run(write_csv(df, tmp_path / "total.csv")))
    (spike,) = ids(s)["spike"]
    assert spike["metric"] == "train/total_loss" and spike["evidence"]["count"] == 1
    (e,) = spike["evidence"]["spikes"]
    assert e["step"] == 80000 and e["explained_by_terms"] is False and e["mirrored_in"] == []
    assert abs(e["residual"]) > 10000 and "do not explain" in spike["message"]
    assert s["metrics"]["train/total_loss"]["status"] == "warning"
    # the same spike read from RadioDiff's text log
    s2 = summary_json(load_run(write_single_log(None, tmp_path / "total.log", frame=df)))
    assert [x["step"] for x in ids(s2)["spike"][0]["evidence"]["spikes"]] == [80000]


def test_spike_in_the_total_mirrored_in_nll(real, tmp_path):
    # a hard batch: nll jumps 20x and the total with it, consistently (the terms explain it)
    df = real.copy()
    row = df["step"] == 120000
    jump = 19 * df.loc[row, "train/nll_loss"]
    df.loc[row, "train/nll_loss"] += jump
    df.loc[row, "train/total_loss"] += jump
    s = summary_json(load_run(write_csv(df, tmp_path / "mirror.csv")))
    spikes = {x["metric"]: x for x in ids(s)["spike"]}
    assert spikes["train/nll_loss"]["evidence"]["spikes"][0]["step"] == 120000
    (e,) = spikes["train/total_loss"]["evidence"]["spikes"]
    assert e["step"] == 120000 and e["mirrored_in"] == ["train/nll_loss"]
    assert e["explained_by_terms"] is True


def test_adversarial_swings_of_the_total_are_not_spikes(real, tmp_path):
    # g_loss jumps at one step and the total follows through d_weight*g_loss: the GAN at work
    df = real.copy()
    row = df["step"] == 100000
    df.loc[row, "train/g_loss"] -= 8.0
    df.loc[row, "train/total_loss"] -= 8.0 * df.loc[row, "train/d_weight"]
    s = summary_json(load_run(write_csv(df, tmp_path / "adv.csv")))
    assert "spike" not in ids(s)


def test_planted_divergence_is_critical(real, tmp_path):
    df = plant_divergence(real, "train/rec_loss", 130000, factor=100)
    s = summary_json(load_run(write_csv(df, tmp_path / "div.csv")))
    div = {x["metric"]: x for x in ids(s)["divergence"]}
    assert "train/rec_loss" in div and div["train/rec_loss"]["severity"] == "critical"
    assert div["train/rec_loss"]["evidence"]["ratio"] > 10
    assert s["verdict"] == "failing"


def _synthetic(n: int = 400, **cols) -> Run:
    step = np.arange(n) * 10
    table = pd.DataFrame({"step": step, "time": 1e9 + step * 0.5, **cols})
    return Run(table=table)


def test_healthy_run_and_plateau():
    rng = np.random.default_rng(0)
    n = 400
    falling = 0.05 * np.exp(-np.arange(n) / 150) * (1 + 0.05 * rng.standard_normal(n))
    s = summary_json(_synthetic(n, **{"train/rec_loss": falling, "lr": np.full(n, 1e-4)}))
    assert s["verdict"] == "healthy" and s["findings"] == []
    flat = 0.01 * (1 + 0.05 * rng.standard_normal(n))
    s = summary_json(_synthetic(n, **{"train/rec_loss": np.r_[falling[:200] + 0.01, flat[200:]]}))
    (p,) = ids(s)["plateau"]
    assert p["severity"] == "info" and s["verdict"] == "healthy"


def test_lr_zero_with_printable_config_lr_and_nothing_moving_is_critical():
    n = 100
    run = _synthetic(n, **{"train/rec_loss": np.full(n, 0.5), "lr": np.zeros(n)})
    run.config = {"lr": 1e-3, "total_steps": 10000}
    s = summary_json(run)
    (lr,) = ids(s)["lr_zero"]
    assert lr["severity"] == "critical" and s["verdict"] == "failing"


@pytest.mark.parametrize("shape, expected", [
    (lambda x: -x, "decreasing"), (lambda x: x, "increasing"),
    (lambda x: 0 * x, "flat"), (lambda x: np.abs(x - 0.5), "mixed"),
])
def test_trend_words(shape, expected):
    rng = np.random.default_rng(1)
    x = np.linspace(0, 1, 500)
    y = 10 + shape(x) * 5 + 0.3 * rng.standard_normal(500)
    assert trend(x * 1000, y)[0] == expected


def test_lr_zero_in_full_precision_records_is_not_print_precision(tmp_path):
    rows = [{"step": s, "time": 1e9 + s, "train/rec_loss": 1.0 / (s + 7), "lr": 0.0}
            for s in range(0, 5000, 100)]
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (lr,) = ids(summary_json(load_run(path)))["lr_zero"]
    assert "full-precision" in lr["message"] and "print precision" not in lr["message"]


def test_opening_transient_of_a_fresh_run_is_no_spike_but_a_later_one_is():
    rng = np.random.default_rng(0)
    step = np.arange(0, 1000, 5)
    rec = 0.05 + 0.002 * rng.standard_normal(len(step))
    rec[0] = 0.15                         # a fresh model's first batch: 3x what follows
    table = pd.DataFrame({"step": step, "train/rec_loss": rec})
    assert "spike" not in ids(summary_json(Run(table=table), total_steps=1000))
    rec = rec.copy()
    rec[100] = 0.5                        # a real spike, mid-run
    (spike,) = ids(summary_json(Run(table=table.assign(**{"train/rec_loss": rec}))))["spike"]
    assert [e["step"] for e in spike["evidence"]["spikes"]] == [500]
