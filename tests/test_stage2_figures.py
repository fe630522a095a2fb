"""A stage-2 run (train_cond_ldm.py) gets its own figures (loss_simple, loss_vlb unless it is 0
throughout, total_loss, lr; an overview and a dashboard of those), in the PNGs, the interactive
charts and the report's text; no VAE panel, no VAE-GAN phase row. And step-like series
(disc_factor 0 → 1, an lr printed at 5 decimals) are drawn as steps, never smoothed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import embedded_charts as _embedded
from logfactory import LDM_CONFIG, ldm_frame, ldm_steps_frame, read_real_run, write_ldm_log

from radiovae.analysis import analyze
from radiovae.analysis.panels import logged_zero, stage2_roles
from radiovae.analysis.schema import Marks
from radiovae.analysis.smoothing import is_steplike
from radiovae.report.charts import chart_json, chart_panels
from radiovae.report.figspec import Describer, FigureSpec
from radiovae.report.figures import describe, draw_figures, figure_list
from radiovae.report.png import paint, pyplot
from radiovae.report.series import Curves, Smoothing
from radiovae.report.write import write_report
from radiovae.runlog import load_run

VAE_WORDS = ("KL", "Reconstruction", "Generator", "d_weight", "Discriminator", "VAE",
             "not in these records", "phase (shaded")


@pytest.fixture(scope="module")
def ldm_run(tmp_path_factory):
    """train_cond_ldm.py's log of a finished 20,001-step plan: loss_vlb logged 0 throughout, lr at
    5 decimals; loss_simple still falls slowly at its end (no plateau): no finding at all."""
    tmp = tmp_path_factory.mktemp("ldm")
    frame = ldm_frame(ldm_steps_frame(steps=20001))
    config = {**LDM_CONFIG, "trainer": {**LDM_CONFIG["trainer"], "train_num_steps": 20001}}
    run = load_run(write_ldm_log(tmp / "train.log", frame, total=20001, config=config))
    return run, analyze(run), tmp


def _paint(run, summary, name: str):
    spec = describe(Curves(run.table), summary, Smoothing(), [name])[name]
    return paint(spec, pyplot(), Smoothing())


# -- the step-like rule -------------------------------------------------------------------------
def test_is_steplike():
    switch = np.r_[np.zeros(150), np.ones(1000)]
    assert is_steplike(switch) and is_steplike(np.full(50, 5e-6))
    lr = np.round(5e-5 * (1 - np.arange(2000) / 2000) ** 0.96, 5)     # printed at 5 decimals
    assert len(np.unique(lr)) == 6 and is_steplike(lr)
    rng = np.random.default_rng(0)
    assert not is_steplike(0.1 + 0.01 * rng.standard_normal(1000))      # a loss
    assert not is_steplike(np.where(rng.random(1000) < 0.5, 1e-4, 2e-4))  # flips: noise
    assert not is_steplike(np.linspace(0, 1, 9).repeat(10))             # 9 levels: too many
    assert is_steplike(np.r_[np.nan, switch, np.inf])                   # non-finite ignored
    assert not is_steplike(np.array([1.0])) and not is_steplike(np.array([0.0, 1.0]))


def test_disc_factor_is_drawn_as_steps_without_smoothing(real_run_csv):
    real = read_real_run(real_run_csv)
    curves = Curves(real)
    df = curves["disc_factor"]
    first_on = int(real.loc[real["train/disc_factor"] > 0, "step"].iloc[0])
    assert df.steplike and first_on == 50100
    x, y = df.step_points
    assert x.tolist() == [35000, first_on, 149900] and y.tolist() == [0.0, 1.0, 1.0]
    d = Describer(curves, Marks())
    spec = FigureSpec("t", "t", [d.metric("disc_factor", "disc_factor", "", cell=(0, 0, 1)),
                                 d.metric("rec", "rec", "", cell=(1, 0, 1)), d.timeline()],
                      grid=(3, 1), xlim=d.xlim)
    fig = paint(spec, pyplot(), Smoothing())
    a, b, _timeline = fig.axes
    (line,) = a.get_lines()                           # one line: no raw cloud, no EMA
    assert line.get_drawstyle() == "steps-post" and "not smoothed" in line.get_label()
    assert list(line.get_xdata()) == [35000, first_on, 149900]
    assert [ln.get_drawstyle() for ln in b.get_lines()][-1] == "default"   # a loss: smoothed
    assert "EMA 0.6" in b.get_lines()[-1].get_label()
    pyplot().close(fig)
    # the interactive charts: disc_factor as steps on its change points, smooth off
    cell, rec, phase = chart_panels(spec, Smoothing())
    (s,) = cell["series"]
    assert s["step"] is True and s["smooth"] is False and s["raw"] is False
    assert list(cell["x"]) == [35000, first_on, 149900] and list(s["y"]) == [0.0, 1.0, 1.0]
    (s,) = phase["series"]                            # the phase row: a switch, not a ramp
    assert s["step"] is True and sorted(set(np.asarray(s["y"]).tolist())) == [0.0, 1.0]
    assert rec["series"][0]["smooth"] is True and "step" not in rec["series"][0]


# -- a stage-2 run's figures ---------------------------------------------------------------------
def test_stage2_figures_are_its_own_only(ldm_run):
    run, summary, tmp = ldm_run
    assert summary.kind == "ldm" and logged_zero(summary, "loss_vlb")
    assert stage2_roles(summary) == ["total", "loss_simple", "lr"]
    drawn = draw_figures(run.table, summary, tmp / "figures", workers=1)
    pngs = sorted(p.stem for p in (tmp / "figures").glob("*.png"))
    assert pngs == ["dashboard", "loss_simple", "lr", "overview", "total_loss"] == sorted(
        name for name, _ in figure_list(summary)) == sorted(drawn)
    charts = json.loads(chart_json(run.table, summary, Smoothing()))["figures"]
    assert set(charts) == set(pngs)
    assert [p["title"] for p in charts["overview"]] == ["Total loss", "Diffusion loss",
                                                        "Learning rate"]
    *cells, last = charts["dashboard"]
    assert [p["title"] for p in cells] == ["Total loss", "Diffusion loss", "Learning rate"]
    assert last["title"] == "Findings: none" and last["series"] == []  # no disc_factor phase row
    assert last["note"] == "No finding in these records." and summary.findings == []
    assert not any(p["note"] for ps in charts.values() for p in ps if p is not last)
    titles = " ".join(p["title"] + p["note"] for ps in charts.values() for p in ps)
    for word in VAE_WORDS:
        assert word not in titles, word
    (lr,) = charts["lr"][0]["series"]
    assert lr["step"] is True and lr["smooth"] is False


def test_stage2_report_text_names_its_own_figures(ldm_run):
    run, summary, tmp = ldm_run
    out = tmp / "report"
    write_report(run, summary, out, progress=False)
    pngs = sorted(p.stem for p in (out / "figures").glob("*.png"))
    md = (out / "report.md").read_text()
    assert "loss_vlb is 0 in every record, so no figure is drawn" in md
    assert "sets loss_vlb = 0, its VLB terms commented out" in md
    for png in pngs:
        assert f"(figures/{png}.png)" in md
    for word in VAE_WORDS + ("Normalized", "Multi-axis", "Phase analysis"):
        assert word not in md, word
    assert set(_embedded((out / "report.html").read_text())["figures"]) == set(pngs)


def test_stage2_png_panels_and_steps(ldm_run):
    run, summary, _tmp = ldm_run
    fig = _paint(run, summary, "overview")
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == ["Total loss", "Diffusion loss", "Learning rate"]
    lr_ax = fig.axes[2]
    (line,) = lr_ax.get_lines()
    # the lr as printed (5 decimals), held: its last level, not an EMA of it
    assert line.get_drawstyle() == "steps-post"
    assert line.get_ydata()[-1] == run.table["lr"].iloc[-1] == pytest.approx(3e-5)
    assert set(np.round(line.get_ydata(), 8)) <= set(np.round(run.table["lr"].unique(), 8))
    pyplot().close(fig)
    fig = _paint(run, summary, "dashboard")
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == ["Total loss", "Diffusion loss", "Learning rate", "Findings: none"]
    assert [t.get_text() for t in fig.axes[3].texts] == ["No finding in these records."]
    pyplot().close(fig)


def test_nonzero_vlb_gets_its_figure_and_unknown_kind_gets_its_metrics(tmp_path):
    every = ldm_steps_frame(steps=3001)
    frame = ldm_frame(every)
    frame["loss_vlb"] = 0.002 + 0.001 * np.cos(frame["step"] / 300.0)
    run = load_run(write_ldm_log(tmp_path / "vlb.log", frame))
    summary = analyze(run)
    assert stage2_roles(summary) == ["total", "loss_simple", "loss_vlb", "lr"]
    charts = json.loads(chart_json(run.table, summary, Smoothing()))["figures"]
    assert [p["title"] for p in charts["overview"]] == ["Total loss", "Diffusion loss",
                                                        "VLB term", "Learning rate"]
    assert charts["loss_vlb"][0]["series"][0]["smooth"] is True
    path = draw_figures(run.table, summary, tmp_path, workers=1)["loss_vlb"]
    assert path.name == "loss_vlb.png" and path.stat().st_size > 0
    # neither VAE nor diffusion: its loss and lr only
    s = np.arange(150) * 10
    other = pd.DataFrame({"step": s, "loss": 2.0 * np.exp(-s / 500) + 0.1,
                          "accuracy": 0.9 - 0.8 * np.exp(-s / 400), "lr": 1e-3})
    csv = tmp_path / "other.csv"
    other.to_csv(csv, index=False)
    run = load_run(csv)
    summary = analyze(run)
    assert summary.kind == "unknown"
    assert [n for n, _ in figure_list(summary)] == ["total_loss", "lr", "overview", "dashboard"]
    specs = describe(Curves(run.table), summary, Smoothing())
    titles = [p.title + p.note for spec in specs.values() for p in spec.panels]
    for word in (*VAE_WORDS[:5], "VAE-GAN", "VAE →", *VAE_WORDS[6:]):
        assert not any(word in t for t in titles), word


def test_unknown_kind_report_text(tmp_path):
    s = np.arange(150) * 10
    other = pd.DataFrame({"step": s, "loss": 2.0 * np.exp(-s / 500) + 0.1,
                          "accuracy": 0.9 - 0.8 * np.exp(-s / 400), "lr": 1e-3})
    other.to_csv(tmp_path / "other.csv", index=False)
    run = load_run(tmp_path / "other.csv")
    out = tmp_path / "unknown"
    write_report(run, analyze(run), out, progress=False)
    md = (out / "report.md").read_text()
    assert "neither a first-stage VAE nor a stage-2" in md     # what it is not, said once
    for word in (*VAE_WORDS[:5], "VAE-GAN", "VAE →", *VAE_WORDS[6:]):
        assert word not in md, word
    assert "(figures/total_loss.png)" in md and "(figures/lr.png)" in md


def test_stage2_dashboard_lists_findings_without_a_phase_row(tmp_path):
    frame = ldm_frame(ldm_steps_frame(steps=20001))
    late = frame["step"] >= 10000
    grow = np.geomspace(1, 40, int(late.sum()))
    frame.loc[late, "loss_simple"] *= grow
    frame.loc[late, "total_loss"] *= grow
    run = load_run(write_ldm_log(tmp_path / "diverging.log", frame))
    summary = analyze(run)
    ids = [(f.id, f.metric) for f in summary.findings]
    assert ("divergence", "loss_simple") in ids
    last = json.loads(chart_json(run.table, summary, Smoothing()))["figures"]["dashboard"][-1]
    assert last["title"].startswith("Findings (") and last["series"] == []
    assert last["timeline"]["phase"] == ""                        # no phase row
    assert "divergence · loss_simple" in [r["label"] for r in last["timeline"]["rows"]]
    assert len(last["timeline"]["rows"]) == len(ids)
    fig = _paint(run, summary, "dashboard")
    rows = fig.axes[-1]
    labels = [t.get_text() for t in rows.get_yticklabels()]
    assert labels == [r["label"] for r in reversed(last["timeline"]["rows"])]
    assert "divergence · loss_simple" in labels and not any("phase" in t for t in labels)
    assert rows.get_title(loc="left") == last["title"]
    pyplot().close(fig)
