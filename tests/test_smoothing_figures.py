"""The figures' smoothed lines are TensorBoard's debiased EMA of what the caption says they are."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from radiovae.analysis import analyze
from radiovae.analysis.schema import Marks
from radiovae.analysis.smoothing import ema_smooth
from radiovae.cli import main
from radiovae.report import write_report
from radiovae.report.figspec import Describer, FigureSpec
from radiovae.report.figures import FIGURES
from radiovae.report.png import paint, pyplot
from radiovae.report.series import Curve, Curves, Smoothing, group_size, group_stats
from radiovae.runlog import load_run


def test_group_stats_keep_spikes_and_gaps():
    steps = np.arange(10, 10 + 2501)
    y = np.linspace(1.0, 2.0, len(steps))
    y[1234] = 1e6                       # a one-record spike
    y[2001:2004] = np.nan               # exactly group 667 (size 3), all NaN
    size = group_size(len(y))
    assert size == 3
    x, lo, hi, mean = group_stats(steps, y, size)
    assert len(x) == 834                # ceil(2501 / 3); the last group has 2 records
    assert x[0] == 11 and x[-1] == steps[2499]
    assert np.nanmax(hi) == 1e6 and np.nanargmax(hi) == 1234 // 3
    assert mean[411] == pytest.approx(np.mean(y[1233:1236]))
    assert np.isnan(mean[667]) and np.isnan(lo[667]) and np.isfinite(mean[[666, 668]]).all()
    assert mean[-1] == pytest.approx(np.mean(y[-2:]))


def test_short_runs_smooth_every_record_as_tensorboard():
    rng = np.random.default_rng(0)
    steps = np.arange(0, 5000, 10)
    values = 100 * np.exp(-steps / 2000) + rng.normal(size=len(steps))
    values[[7, 8]] = [np.nan, np.inf]
    x, y = Curve("loss", steps, values).smoothed(Smoothing(0.9))
    finite = np.where(np.isfinite(values), values, np.nan)
    assert np.array_equal(x, steps)
    np.testing.assert_allclose(y, ema_smooth(finite, 0.9), equal_nan=True)
    assert np.isnan(y[7]) and np.isnan(y[8])   # a gap, not a jump


def test_smoothing_parse():
    assert Smoothing.parse("0.95") == Smoothing(0.95)
    assert Smoothing.parse("0") == Smoothing(0.0)
    assert Smoothing.parse("median").median
    for bad in ("1", "-0.1", "nan", "x", ""):
        with pytest.raises(ValueError):
            Smoothing.parse(bad)
    assert "weight 0.6," in Smoothing().describe(500) and "every record" in Smoothing().describe(500)
    assert "groups of 150 consecutive records" in Smoothing().describe(150_000)


def _run(tmp_path, rows=1500):
    steps = np.arange(rows) * 10
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"step": steps,
                       "train/total_loss": 500 * np.exp(-steps / 5000) + 5 * rng.random(rows),
                       "train/kl_loss": 1e5 + steps, "train/rec_loss": 0.05 - steps * 1e-6})
    path = tmp_path / "m.csv"
    df.to_csv(path, index=False)
    return load_run(path)


@pytest.mark.parametrize("smoothing", [Smoothing(0.8), Smoothing(median=True)])
def test_the_drawn_line_is_the_stated_smoothing(tmp_path, smoothing):
    run = _run(tmp_path)
    d = Describer(Curves(run.table), Marks(), smoothing)
    fig = paint(FigureSpec("t", "t", [d.metric("total", "total", "")], xlim=d.xlim), pyplot(),
                smoothing)
    (ax,) = fig.axes
    line = next(ln for ln in ax.get_lines() if ln.get_label().endswith(f"({smoothing.short})"))
    curve = d.curves["total"]
    x, _lo, _hi, mean = curve.groups   # 1,500 records -> 750 groups of 2
    assert len(x) == 750 and np.array_equal(line.get_xdata(), x)
    if smoothing.median:
        medians = np.median(curve.values.reshape(750, 2), axis=1)
        want = pd.Series(medians).rolling(15, center=True, min_periods=1).median()
    else:
        want = ema_smooth(mean, 0.8)
    np.testing.assert_allclose(line.get_ydata(), want)
    pyplot().close(fig)
    note = smoothing.describe(len(run.table))
    assert "groups of 2 consecutive records (750 points)" in note
    assert ("weight 0.8," in note) != smoothing.median


def test_every_caption_states_the_smoothing(tmp_path):
    run = _run(tmp_path)
    smoothing = Smoothing(0.8)
    out = tmp_path / "out"
    write_report(run, analyze(run), out, progress=False, smoothing=smoothing)
    md = (out / "report.md").read_text()
    captions = re.findall(r"^!\[.*\]\(figures/(\w+)\.png\)\n\n\*(.*)\*$", md, re.M)
    assert sorted(name for name, _ in captions) == sorted(name for name, _t in FIGURES)
    note = smoothing.describe(len(run.table))
    for name, caption in captions:
        assert caption.endswith(note), name
    assert "rolling median" not in md
    # watch rewrites the text without redrawing: the captions still describe the PNGs on disk
    write_report(run, analyze(run), out, progress=False, figures=False)
    assert (out / "report.md").read_text().count(note) == len(FIGURES)


def test_cli_rejects_a_bad_weight_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["report", str(tmp_path), "--smoothing", "1.5"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[0, 1)" in err, err
