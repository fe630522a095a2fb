"""One figure description, two renderers: the PNG painter and the page's chart JSON mark the same
steps with the same colours, and a colour changed in the one table changes both."""

from __future__ import annotations

import numpy as np
import pytest
from logfactory import (
    plant_divergence,
    plant_nan,
    plant_spike,
    read_real_run,
    write_radiodiff_logs,
)
from matplotlib.colors import to_hex

from radiovae.analysis import analyze
from radiovae.report import figspec
from radiovae.report.charts import build_charts
from radiovae.report.figures import FIGURES, describe
from radiovae.report.png import paint, pyplot
from radiovae.report.series import Curves, Smoothing
from radiovae.runlog import load_run

SPIKE, NAN, DIVERGES, RESUME = 60_000, 70_000, 130_000, 90_000


@pytest.fixture(scope="module")
def marked(real_run_csv, tmp_path_factory):
    """The real run with a spike in the total loss, a NaN in the KL loss, the reconstruction loss
    diverging, resumed once; its d_weight is pinned at 5,000 (weight_saturated)."""
    df = plant_spike(read_real_run(real_run_csv), "train/total_loss", SPIKE)
    df = plant_divergence(plant_nan(df, "train/kl_loss", NAN), "train/rec_loss", DIVERGES)
    run = load_run(write_radiodiff_logs(None, tmp_path_factory.mktemp("marked"), frame=df,
                                        resume_step=RESUME))
    summary = analyze(run)
    found = {(f.id, f.metric) for f in summary.findings}
    assert {("spike", "train/total_loss"), ("non_finite", "train/kl_loss"),
            ("divergence", "train/rec_loss"), ("weight_saturated", "train/d_weight")} <= found
    assert summary.marks.resumes == [RESUME]
    return run, summary


def _png_marks(ax) -> dict[str, set]:
    """What the painter drew over the curves of one axes, read back from its artists."""
    from matplotlib.collections import LineCollection, PathCollection

    out: dict[str, set] = {"v": set(), "x": set(), "spans": set(), "hlines": set(),
                           "switch": set(), "resumes": set()}
    for c in ax.collections:
        if isinstance(c, PathCollection):          # ▼ at the value; × at the top (axes y)
            kind = "v" if c.get_offset_transform() == ax.transData else "x"
            color = to_hex(c.get_facecolor()[0])
            for x, y in c.get_offsets():
                out[kind].add((float(x), float(y) if kind == "v" else None, color))
        elif isinstance(c, LineCollection):        # the resume lines
            color = to_hex(c.get_color()[0])
            out["resumes"] |= {(float(seg[0][0]), color) for seg in c.get_segments()}
    for p in ax.patches:                           # axvspan: the VAE-GAN phase, a divergence
        x0, x1 = (p.get_x(), p.get_x() + p.get_width()) if hasattr(p, "get_width") else (
            p.get_xy()[:, 0].min(), p.get_xy()[:, 0].max())
        out["spans"].add((float(x0), float(x1), to_hex(p.get_facecolor())))
    for ln in ax.lines:
        if ln.get_linestyle() != "--":
            continue
        x, y = ln.get_xdata(), ln.get_ydata()
        if list(x) == [0, 1] and y[0] == y[1]:     # axhline: a pinned value
            out["hlines"].add((float(y[0]), to_hex(ln.get_color())))
        elif x[0] == x[1]:                         # axvline: the switch
            out["switch"].add((float(x[0]), to_hex(ln.get_color())))
    return out


def _chart_marks(panel: dict) -> dict[str, set]:
    m = panel["marks"]
    return {
        "v": {(p["x"], p["y"], p["color"]) for p in m["points"] if p["shape"] == "v"},
        "x": {(p["x"], None, p["color"]) for p in m["points"] if p["shape"] == "x"},
        "spans": {(s["from"], s["to"], s["color"]) for s in m["spans"]},
        "hlines": {(h["y"], h["color"]) for h in m["hlines"] if h["label"].startswith("pinned")},
        "switch": {(v["x"], v["color"]) for v in m["vlines"] if v["pos"] == "top"},
        "resumes": {(v["x"], v["color"]) for v in m["vlines"] if v["pos"] == "bottom"},
    }


def _both(run, summary) -> tuple[dict, dict, object]:
    """{figure: {panel title: PNG marks}}, {figure: {panel title: chart marks}}, the figures."""
    plt = pyplot()
    smoothing = Smoothing()
    specs = describe(Curves(run.table), summary, smoothing)
    charts = build_charts(specs, smoothing)
    png, chart, figs = {}, {}, {}
    for name, spec in specs.items():
        fig = paint(spec, plt, smoothing)
        figs[name] = fig
        png[name] = {ax.get_title(loc="left"): ax for ax in fig.axes
                     if ax.get_title(loc="left")}
        chart[name] = {p["title"]: p for p in charts[name]}
    return png, chart, figs


def test_png_and_chart_mark_the_same_steps_in_the_same_colours(marked):
    run, summary = marked
    png, chart, figs = _both(run, summary)
    try:
        assert set(png) == set(chart) == {name for name, _t in FIGURES}
        compared = 0
        for name in png:
            assert set(png[name]) == set(chart[name]), name     # the same panels, titled alike
            for title, ax in png[name].items():
                p = chart[name][title]
                if p["note"] or p["timeline"]:
                    continue
                a, b = _png_marks(ax), _chart_marks(p)
                for key in a:
                    assert a[key] == b[key], (name, title, key, a[key], b[key])
                compared += 1
        assert compared == 17      # 3 single, 2 disc, 4 overview, normalized, multi-axis, 6 dashboard
        # and they are the analysis' steps, at the records' values, in the severity's colour
        warning, critical, info = (figspec.SEVERITY_COLORS[k]
                                   for k in ("warning", "critical", "info"))
        total = _png_marks(png["total_loss"]["Total loss: train/total_loss  [spike]"])
        spike_value = float(run.table.loc[run.table["step"] == SPIKE, "train/total_loss"].iloc[0])
        assert total["v"] == {(SPIKE, spike_value, warning)}
        assert total["resumes"] == {(RESUME, figspec.RESUME_COLOR)}
        assert total["switch"] == {(summary.marks.switch, figspec.SWITCH_COLOR)}
        kl = _png_marks(png["kl_loss"]["KL loss: train/kl_loss  [non_finite]"])
        assert kl["x"] == {(NAN, None, warning)}
        rec = _png_marks(png["rec_loss"]["Reconstruction loss: train/rec_loss  [divergence]"])
        (div,) = [m for m in summary.marks.on("train/rec_loss") if m.id == "divergence"]
        last = float(run.table["step"].max())
        assert (min(div.steps), last, critical) in rec["spans"]
        assert DIVERGES - 15_000 <= min(div.steps) <= DIVERGES + 5_000
        d_weight = _png_marks(png["dashboard"]["Adaptive weight d_weight"])
        assert d_weight["hlines"] == {(5000.0, info)}
    finally:
        for fig in figs.values():
            pyplot().close(fig)


def test_the_timeline_rows_agree(marked):
    run, summary = marked
    png, chart, figs = _both(run, summary)
    try:
        (title,) = [t for t in png["dashboard"] if t.startswith("Phases and findings")]
        ax, p = png["dashboard"][title], chart["dashboard"][title]
        rows = p["timeline"]["rows"]
        assert p["timeline"]["phase"] == figspec.PHASE_ROW
        labels = ax.get_yticklabels()
        assert [t.get_text() for t in labels] == [figspec.PHASE_ROW] + [
            r["label"] for r in reversed(rows)]
        assert [to_hex(t.get_color()) for t in labels[1:]] == [r["color"] for r in reversed(rows)]
        by_label = {r["label"]: r for r in rows}
        spike = by_label["spike · total_loss"]
        assert spike["ticks"] == [SPIKE] and spike["color"] == figspec.SEVERITY_COLORS["warning"]
        assert by_label["divergence · rec_loss"]["range"] is not None
        # most severe first: the critical divergence heads the list
        assert rows[0]["label"] == "divergence · rec_loss"
        # the PNG's ticks: the same steps on each row
        from matplotlib.collections import PathCollection

        ticks = {}
        for c in ax.collections:
            if isinstance(c, PathCollection):
                for x, y in c.get_offsets():
                    ticks.setdefault(float(y), []).append(float(x))
        for i, r in enumerate(reversed(rows)):
            assert sorted(ticks.get(1.5 + i, [])) == sorted(r["ticks"]), r["label"]
    finally:
        for fig in figs.values():
            pyplot().close(fig)


def test_one_colour_entry_changes_both_renderers(marked, monkeypatch):
    run, summary = marked
    monkeypatch.setitem(figspec.SEVERITY_COLORS, "warning", "#123456")
    monkeypatch.setattr(figspec, "SWITCH_COLOR", "#654321")
    monkeypatch.setitem(figspec.COLORS, "total", "#abcdef")
    png, chart, figs = _both(run, summary)
    try:
        title = "Total loss: train/total_loss  [spike]"
        a, b = _png_marks(png["total_loss"][title]), _chart_marks(chart["total_loss"][title])
        assert {c for *_xy, c in a["v"]} == {c for *_xy, c in b["v"]} == {"#123456"}
        assert {c for _x, c in a["switch"]} == {c for _x, c in b["switch"]} == {"#654321"}
        ax = png["total_loss"][title]
        (line,) = [ln for ln in ax.get_lines() if ln.get_label().endswith("(EMA 0.6)")]
        assert to_hex(line.get_color()) == "#abcdef"
        assert chart["total_loss"][title]["series"][0]["color"] == "#abcdef"
        rows = chart["dashboard"][next(t for t in chart["dashboard"]
                                       if t.startswith("Phases"))]["timeline"]["rows"]
        assert {r["color"] for r in rows if r["label"].startswith("spike")} == {"#123456"}
    finally:
        for fig in figs.values():
            pyplot().close(fig)


def test_a_run_without_marks_draws_none(tmp_path):
    import pandas as pd

    steps = np.arange(400) * 10
    df = pd.DataFrame({"step": steps, "train/total_loss": 10 * np.exp(-steps / 2000) + 1,
                       "train/kl_loss": 100 + steps / 100, "train/rec_loss": 0.05 - steps * 1e-6})
    df.to_csv(tmp_path / "m.csv", index=False)
    run = load_run(tmp_path / "m.csv")
    summary = analyze(run)
    png, chart, figs = _both(run, summary)
    try:
        title = "Total loss: train/total_loss"
        assert _png_marks(png["total_loss"][title]) == _chart_marks(chart["total_loss"][title]) \
            == {k: set() for k in ("v", "x", "spans", "hlines", "switch", "resumes")}
    finally:
        for fig in figs.values():
            pyplot().close(fig)
