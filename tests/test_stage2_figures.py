"""A stage-2 run (train_cond_ldm.py) gets its own figures (loss_simple, loss_vlb unless it is 0
throughout, total_loss, lr; an overview and a dashboard of those), in the PNGs, the interactive
charts and the report's text; no VAE panel, no VAE-GAN phase row. And step-like series
(disc_factor 0 → 1, an lr printed at 5 decimals) are drawn as steps, never smoothed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import embedded_charts as _embedded
from logfactory import LDM_CONFIG, ldm_frame, ldm_steps_frame, read_real_run, write_ldm_log

from radiovae.analysis import analyze
from radiovae.analysis.panels import logged_zero, stage2_roles
from radiovae.analysis.smoothing import is_steplike
from radiovae.report.charts import build_charts
from radiovae.report.figures import Painter, _draw, figure_list, pyplot
from radiovae.report.marks import Marks
from radiovae.report.series import Curves
from radiovae.report.stage2_figures import STAGE2_DRAW, build_stage2_charts
from radiovae.report.write import write_report
from radiovae.runlog import load_run

VAE_WORDS = ("KL", "Reconstruction", "Generator", "d_weight", "Discriminator", "VAE",
             "not in these records", "phase (shaded")


@pytest.fixture(scope="module")
def ldm_report(tmp_path_factory):
    """train_cond_ldm.py's log of a finished 20,001-step plan: loss_vlb logged 0 throughout, lr at
    5 decimals; loss_simple still falls slowly at its end (no plateau): no finding at all."""
    tmp = tmp_path_factory.mktemp("ldm")
    frame = ldm_frame(ldm_steps_frame(steps=20001))
    config = {**LDM_CONFIG, "trainer": {**LDM_CONFIG["trainer"], "train_num_steps": 20001}}
    run = load_run(write_ldm_log(tmp / "train.log", frame, total=20001, config=config))
    summary = analyze(run)
    out = tmp / "report"
    write_report(run, summary, out, progress=False)
    return run, summary, out


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
    plt = pyplot()
    fig, (a, b) = plt.subplots(2)
    p = Painter(curves, Marks())
    p.curve(a, "disc_factor")
    (line,) = a.get_lines()                           # one line: no raw cloud, no EMA
    assert line.get_drawstyle() == "steps-post" and "not smoothed" in line.get_label()
    assert list(line.get_xdata()) == [35000, first_on, 149900]
    p.curve(b, "rec")                                 # a loss keeps its smoothed line
    assert [ln.get_drawstyle() for ln in b.get_lines()][-1] == "default"
    assert "EMA 0.6" in b.get_lines()[-1].get_label()
    plt.close(fig)
    # the interactive charts: disc_factor as steps on its change points, smooth off
    charts = build_charts(curves, Marks())
    (cell,) = [p for p in charts["disc_loss"] if p["title"].startswith("disc_factor")]
    (s,) = cell["series"]
    assert s["step"] is True and s["smooth"] is False and s["raw"] is False
    assert list(cell["x"]) == [35000, first_on, 149900] and list(s["y"]) == [0.0, 1.0, 1.0]
    (s,) = charts["dashboard"][-1]["series"]          # the phase row: a switch, not a ramp
    assert s["step"] is True and sorted(set(np.asarray(s["y"]).tolist())) == [0.0, 1.0]
    rec = charts["rec_loss"][0]["series"][0]
    assert rec["smooth"] is True and "step" not in rec


# -- a stage-2 run's figures ---------------------------------------------------------------------
def test_stage2_report_has_its_own_figures_only(ldm_report):
    run, summary, out = ldm_report
    assert summary["kind"] == "ldm" and logged_zero(summary, "loss_vlb")
    assert stage2_roles(summary) == ["total", "loss_simple", "lr"]
    pngs = sorted(p.stem for p in (out / "figures").glob("*.png"))
    assert pngs == ["dashboard", "loss_simple", "lr", "overview", "total_loss"] == sorted(
        name for name, _ in figure_list(summary))
    md = (out / "report.md").read_text()
    assert "loss_vlb is 0 in every record, so no figure is drawn" in md
    assert "sets loss_vlb = 0, its VLB terms commented out" in md
    for png in pngs:
        assert f"(figures/{png}.png)" in md
    for word in VAE_WORDS + ("Normalized", "Multi-axis", "Phase analysis"):
        assert word not in md, word
    charts = _embedded((out / "report.html").read_text())["figures"]
    assert set(charts) == set(pngs)
    assert [p["title"] for p in charts["overview"]] == ["Total loss", "Diffusion loss",
                                                        "Learning rate"]
    *cells, last = charts["dashboard"]
    assert [p["title"] for p in cells] == ["Total loss", "Diffusion loss", "Learning rate"]
    assert last["title"] == "Findings" and last["series"] == []     # no disc_factor phase row
    assert last["note"] == "Findings: none in these records." and summary["findings"] == []
    assert not any(p["note"] for ps in charts.values() for p in ps if p is not last)
    (lr,) = charts["lr"][0]["series"]
    assert lr["step"] is True and lr["smooth"] is False


def test_stage2_png_panels_and_steps(ldm_report):
    run, summary, _out = ldm_report
    plt = pyplot()
    p = Painter(Curves(run.table), Marks.from_summary(summary))
    fig = STAGE2_DRAW["overview"](p, plt, summary)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == ["Total loss", "Diffusion loss", "Learning rate"]
    lr_ax = fig.axes[2]
    (line,) = lr_ax.get_lines()
    # the lr as printed (5 decimals), held: its last level, not an EMA of it
    assert line.get_drawstyle() == "steps-post"
    assert line.get_ydata()[-1] == run.table["lr"].iloc[-1] == pytest.approx(3e-5)
    assert set(np.round(line.get_ydata(), 8)) <= set(np.round(run.table["lr"].unique(), 8))
    plt.close(fig)
    fig = STAGE2_DRAW["dashboard"](p, plt, summary)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles[:3] == ["Total loss", "Diffusion loss", "Learning rate"]
    assert titles[3].startswith("Findings: none") and len(titles) == 4
    assert [t.get_text() for t in fig.axes[3].get_yticklabels()] == []
    plt.close(fig)


def test_nonzero_vlb_gets_its_figure_and_unknown_kind_gets_its_metrics(tmp_path):
    every = ldm_steps_frame(steps=3001)
    frame = ldm_frame(every)
    frame["loss_vlb"] = 0.002 + 0.001 * np.cos(frame["step"] / 300.0)
    run = load_run(write_ldm_log(tmp_path / "vlb.log", frame))
    summary = analyze(run)
    assert stage2_roles(summary) == ["total", "loss_simple", "loss_vlb", "lr"]
    charts = build_stage2_charts(Curves(run.table), Marks.from_summary(summary), summary)
    assert [p["title"] for p in charts["overview"]] == ["Total loss", "Diffusion loss",
                                                        "VLB term", "Learning rate"]
    assert charts["loss_vlb"][0]["series"][0]["smooth"] is True
    plt = pyplot()
    path = _draw(Painter(Curves(run.table), Marks.from_summary(summary)), plt, summary,
                 "loss_vlb", tmp_path)
    assert path.name == "loss_vlb.png" and path.stat().st_size > 0
    # neither VAE nor diffusion: its loss and lr only
    s = np.arange(150) * 10
    other = pd.DataFrame({"step": s, "loss": 2.0 * np.exp(-s / 500) + 0.1,
                          "accuracy": 0.9 - 0.8 * np.exp(-s / 400), "lr": 1e-3})
    csv = tmp_path / "other.csv"
    other.to_csv(csv, index=False)
    run = load_run(csv)
    summary = analyze(run)
    assert summary["kind"] == "unknown"
    assert [n for n, _ in figure_list(summary)] == ["total_loss", "lr", "overview", "dashboard"]
    out = tmp_path / "unknown"
    write_report(run, summary, out, progress=False)
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
    ids = [(f["id"], f["metric"]) for f in summary["findings"]]
    assert ("divergence", "loss_simple") in ids
    marks = Marks.from_summary(summary)
    last = build_stage2_charts(Curves(run.table), marks, summary)["dashboard"][-1]
    assert last["title"].startswith("Findings (") and last["series"] == []
    assert "divergence · loss_simple" in [r["label"] for r in last["timeline"]["rows"]]
    assert len(last["timeline"]["rows"]) == len(ids)
    plt = pyplot()
    fig = STAGE2_DRAW["dashboard"](Painter(Curves(run.table), marks), plt, summary)
    rows = fig.axes[-1]
    labels = [t.get_text() for t in rows.get_yticklabels()]
    assert "divergence · loss_simple" in labels and not any("phase" in t for t in labels)
    assert rows.get_title(loc="left").startswith("Findings (")
    plt.close(fig)
