"""The HTML's interactive charts: safe embedded data of bounded size, and (in headless Chromium)
every chart drawn, no error logged, and the page's EMA equal to analysis.smoothing's."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from helpers import embedded_charts as _embedded
from helpers import require

from radiovae.analysis import analyze
from radiovae.analysis.findings.base import Finding
from radiovae.analysis.marks import finding_mark
from radiovae.analysis.smoothing import ema_smooth
from radiovae.report import write_report
from radiovae.report.charts import align, chart_json, pack, panel, series
from radiovae.report.figures import FIGURES
from radiovae.report.series import Smoothing
from radiovae.runlog import load_run

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def _run_csv(tmp_path, rows=3000):
    rng = np.random.default_rng(2)
    steps = np.arange(rows) * 50
    total = 800 * np.exp(-steps / 40_000) + 20 * rng.random(rows)
    total[rows // 3 + 7] = 5e4                                 # a one-record spike
    df = pd.DataFrame({"step": steps, "train/total_loss": total, "train/kl_loss": 1e5 + steps / 10,
                       "train/rec_loss": 0.05 * np.exp(-steps / 60_000) + 0.002 * rng.random(rows),
                       "train/disc_loss": np.where(steps >= 50_000, 1 + 0.05 * rng.random(rows), 0),
                       "train/disc_factor": (steps >= 50_000).astype(float)})
    path = tmp_path / "metrics.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture
def no_pngs(monkeypatch):
    """Charts and text only: drawing the PNGs is tested elsewhere and costs seconds."""
    monkeypatch.setattr("radiovae.report.write.draw_figures", lambda *a, **k: {})


def test_chart_json_is_safe_inside_script_and_bounded(tmp_path):
    evil = "</script><script>alert(1)</script><!--"
    run = load_run(_run_csv(tmp_path, rows=150_000))
    summary = analyze(run)
    f = Finding("spike", "warning", evil, f"{evil} at step 100", steps=[100])
    summary.findings.append(f)
    summary.marks.findings.append(finding_mark(f))
    text = chart_json(run.table, summary, Smoothing())
    assert evil not in text and "alert(1)</script>" not in text and "<" not in text
    spec = json.loads(text)
    rows = [r["label"] for r in spec["figures"]["dashboard"][-1]["timeline"]["rows"]]
    assert ("spike · " + evil)[:35] + "…" in rows                # escaped, not lost
    assert set(spec["figures"]) == {name for name, _t in FIGURES}
    assert max(len(a) for a in spec["arrays"]) <= 1000        # 150k records -> 1,000 groups
    p = spec["figures"]["total_loss"][0]
    hi = np.array(spec["arrays"][p["series"][0]["hi"]], dtype=float)
    assert np.nanmax(hi) == 5e4                               # the spike survives thinning
    assert len(text) < 1_000_000, len(text)


def test_csp_allows_exactly_the_inlined_scripts(tmp_path, no_pngs):
    run = load_run(_run_csv(tmp_path, rows=200))
    out = tmp_path / "out"
    write_report(run, analyze(run), out, progress=False)
    html = (out / "report.html").read_text()
    csp = re.search(r'Content-Security-Policy" content="([^"]*)"', html).group(1)
    allowed = set(re.findall(r"'sha256-([^']+)'", csp))
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 2 and "connect-src" not in csp and "default-src 'none'" in csp
    assert {base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
            for s in scripts} == allowed


def test_align_puts_runs_on_one_x():
    x, (a, b) = align([([0, 10, 20], [[1.0, 2.0, 3.0]]), ([10, 15], [[5.0, 6.0]])])
    assert x.tolist() == [0, 10, 15, 20]
    np.testing.assert_array_equal(a[0], [1, 2, np.nan, 3])
    np.testing.assert_array_equal(b[0], [np.nan, 5, 6, np.nan])
    text = pack({"cmp": [panel("loss", x, [series("run A", a[0], span_gaps=True)])]})
    spec = json.loads(text)
    assert spec["arrays"][spec["figures"]["cmp"][0]["series"][0]["y"]] == [1, 2, None, 3]


def _figures_page(run, summary, path):
    """A page of the run's figures as the report's HTML draws them (its charts, no text)."""
    from radiovae.report.document import Document, Figure, Section
    from radiovae.report.figures import figure_list
    from radiovae.report.render import to_html

    doc = Document("figures", "", "unknown", [Section("Figures", "figures", [
        Figure(f"figures/{name}.png", title) for name, title in figure_list(summary)])])
    path.write_text(to_html(doc, lambda _p: None, chart_json(run.table, summary, Smoothing())),
                    encoding="utf-8")
    return path


def _browser() -> str | None:
    return next((b for b in map(shutil.which, BROWSERS) if b), None)


def test_every_chart_renders_in_headless_chromium(tmp_path):
    require("headless Chromium", None if _browser() else "no chromium on PATH (CI installs "
            "Debian's chromium; elsewhere: apt-get install chromium)", "RADIOVAE_SKIP_BROWSER")
    run = load_run(_run_csv(tmp_path))
    html_path = _figures_page(run, analyze(run), tmp_path / "figures.html")
    spec = _embedded(html_path.read_text())
    want = sum(1 for ps in spec["figures"].values() for p in ps if not p["note"])
    base = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=4000",
            "--enable-logging=stderr", "--v=0"]
    # a weight other than the report's, from the URL: the page smooths, not Python
    r = subprocess.run([*base, "--dump-dom", html_path.as_uri() + "#smoothing=0.9"],
                       capture_output=True, text=True, timeout=90)
    status = re.search(r'<pre id="radiovae-status"[^>]*>([^<]*)</pre>', r.stdout)
    assert status and status.group(1), r.stderr[-2000:]
    status = json.loads(status.group(1))
    assert status["errors"] == []
    assert not re.search(r"CONSOLE.*(Error|Refused)|Uncaught", r.stderr), r.stderr[-2000:]
    assert status["charts"] == status["expected"] == want
    assert min(status["painted"]) > 300, status["painted"]    # lines drawn, not just axes
    assert status["weight"] == 0.9
    for i, key in ((0, "total_loss"), (1, "kl_loss")):
        p = spec["figures"][key][0]
        label = p["series"][0]["label"]
        y = np.array(spec["arrays"][p["series"][0]["y"]], dtype=float)
        sm = ema_smooth(y, 0.9)[[0, 1, 2, -1]]
        assert status["smoothed"][f"{key}/{i}/{label}"] == pytest.approx(sm.tolist(), rel=1e-9)

    shot = tmp_path / "shot.png"
    subprocess.run([*base, f"--screenshot={shot}", "--window-size=1200,3000",
                    html_path.as_uri()], capture_output=True, timeout=90)
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1200, 3000)
        assert len(im.convert("RGB").getcolors(1 << 20) or []) > 200   # a drawn page, not blank


@pytest.mark.skipif(_browser() is None, reason="no headless Chromium on this machine")
def test_a_stage2_runs_charts_render_with_its_findings_rows(tmp_path):
    """No phase row (a stage-2 run has no VAE-GAN phase): the timeline's rows from 0."""
    from logfactory import ldm_frame, ldm_steps_frame, write_ldm_log

    frame = ldm_frame(ldm_steps_frame(steps=6001))
    late = frame["step"] >= 3000
    frame.loc[late, "loss_simple"] *= np.geomspace(1, 40, int(late.sum()))
    run = load_run(write_ldm_log(tmp_path / "diverging.log", frame))
    summary = analyze(run)
    html_path = _figures_page(run, summary, tmp_path / "figures.html")
    spec = _embedded(html_path.read_text())
    timeline = spec["figures"]["dashboard"][-1]["timeline"]
    assert timeline["phase"] == "" and timeline["rows"]
    r = subprocess.run([_browser(), "--headless", "--no-sandbox", "--disable-gpu",
                        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=4000",
                        "--dump-dom", html_path.as_uri()], capture_output=True, text=True,
                       timeout=90)
    status = json.loads(re.search(r'<pre id="radiovae-status"[^>]*>([^<]*)</pre>',
                                  r.stdout).group(1))
    want = sum(1 for ps in spec["figures"].values() for p in ps if not p["note"])
    assert status["errors"] == [] and status["charts"] == status["expected"] == want
    assert min(status["painted"]) > 300, status["painted"]
