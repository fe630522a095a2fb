"""The report: the real RadioDiff run end to end, figures, HTML escaping, bad input on the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import cli as _cli
from helpers import one_error_line, with_finding, write_run_dir
from PIL import Image

from radiovae.analysis import analyze
from radiovae.report import make_report, write_report
from radiovae.report.figures import FIGURES
from radiovae.report.series import Curve, minmax_indices
from radiovae.runlog import load_run

SECTIONS = ["Executive summary", "Direct answers", "Run and configuration", "Key statistics", "Total loss",
            "KL loss", "Reconstruction loss", "Discriminator and adversarial terms",
            "Training overview", "Normalized comparison", "Multi-axis analysis",
            "Complete dashboard", "Phase analysis", "Concerns answered from evidence",
            "Recommendations", "Conclusion"]


@pytest.fixture(scope="module")
def real_report(real_run_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    summary = make_report(real_run_csv, out, progress=False)
    return out, summary


def test_real_run_writes_every_output(real_report):
    out, summary = real_report
    for name in ("report.md", "report.html", "summary.json"):
        assert (out / name).stat().st_size > 1000, name
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["steps"]["first"] == 35000 and on_disk["steps"]["last"] == 149900
    assert on_disk["verdict"] == summary.verdict and on_disk["schema_version"] == 1
    assert not list(out.rglob(".*tmp*")), "temporary files left behind"


@pytest.fixture(scope="module")
def real_figures(real_run_csv, tmp_path_factory):
    """The real run's figures alone (draw_figures: the two drawing workers)."""
    from radiovae.report.figures import draw_figures

    run = load_run(real_run_csv)
    return draw_figures(run.table, analyze(run), tmp_path_factory.mktemp("figures"))


def test_real_run_figures_are_sensible_pngs(real_figures):
    assert list(real_figures) == [name for name, _title in FIGURES]
    for name, path in real_figures.items():
        assert path.name == f"{name}.png"
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            w, h = im.size
            assert 800 <= w <= 2000 and 400 <= h <= 2000, (name, im.size)
            # not blank: a drawn figure has many distinct colours
            assert len(im.convert("RGB").getcolors(1 << 20) or []) > 50, name


def test_real_run_markdown_names_the_facts(real_report):
    out, summary = real_report
    md = (out / "report.md").read_text()
    for title in SECTIONS:
        assert re.search(rf"^## {re.escape(title)}$", md, re.M), title
    # the findings a RadioDiff researcher must see, each in the text with its evidence
    for finding in ("weight_saturated", "frozen_metric", "lr_zero", "negative_total_loss"):
        assert finding in md, finding
    assert "train/logvar" in md and "train/d_weight" in md
    assert "5,000" in md                        # d_weight's clamp value
    assert "50,001" in md or "50,100" in md     # the switch to VAE-GAN
    assert "149,900" in md and "-433.3" in md   # latest step and total loss
    assert "Confidence:" in md
    assert "excellent" not in md.lower() and "outstanding" not in md.lower()
    assert summary.verdict != "healthy"
    # the statistics table's status words follow from the findings
    row = next(line for line in md.splitlines() if line.startswith("| `train/d_weight`"))
    assert "info" in row and "weight_saturated" in row
    # KL's share of the total: 1e-6 · the smoothed KL ~1.7e5 ≈ 0.17
    assert re.search(r"kl_weight·KL ≈ 0\.17", md)


def test_real_run_html_is_self_contained(real_report):
    out, _ = real_report
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= len(FIGURES)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "external resource"
    # the only scripts: the chart data (JSON, not run) and the two inlined package assets
    scripts = re.findall(r"<script([^>]*)>", html, re.I)
    assert scripts == [' type="application/json" id="radiovae-charts"', "", ""], scripts
    assert "<link" not in html.lower()


def _csv_with(tmp_path: Path, column: str) -> Path:
    steps = np.arange(0, 2000, 10)
    rng = np.random.default_rng(0)
    rows = [f"step,train/total_loss,train/rec_loss,\"{column}\""]
    for s in steps:
        rows.append(f"{s},{1000 - s / 4 + rng.normal():.5f},{0.05 - s * 1e-5:.5f},{rng.random():.5f}")
    path = tmp_path / "evil.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_log_text_is_escaped_in_html_and_markdown(tmp_path):
    evil = "<script>alert(1)</script>"
    run = load_run(_csv_with(tmp_path, evil))
    summary = with_finding(analyze(run), evil, f"value {evil} at step 100")
    summary.config = {**summary.config, "note": evil}
    out = tmp_path / "out"
    write_report(run, summary, out, progress=False)
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    assert evil not in html and html.lower().count("<script") == 3   # data + uPlot + charts.js
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert evil not in md


def test_minmax_thinning_keeps_spikes():
    y = np.random.default_rng(1).normal(size=150_000)
    y[123_457] = 1e6
    y[98_765] = -1e6
    idx = minmax_indices(y)
    assert len(idx) <= 2100
    assert 123_457 in idx and 98_765 in idx
    assert np.all(np.diff(idx) > 0)


def test_scale_follows_the_values():
    steps = np.arange(1000)
    assert Curve("a", steps, np.linspace(1, 2, 1000)).scale[0] == "linear"
    assert Curve("b", steps, np.logspace(0, 5, 1000)).scale[0] == "log"
    crossing = np.concatenate([np.logspace(4, 0, 500), -np.logspace(0, 4, 500)])
    assert Curve("c", steps, crossing).scale[0] == "symlog"


# -- bad input through the real command line ---------------------------------------------------------
BAD = {
    "missing": None,
    "empty.log": b"",
    "garbage.bin": bytes(range(256)) * 64,
    "notes.txt": b"epoch 1 done\nsome warning: whatever\n100%|##########| 10/10\n",
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_is_one_line_exit_2_and_keeps_old_report(tmp_path, name):
    path = tmp_path / name
    if BAD[name] is not None:
        path.write_bytes(BAD[name])
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("previous report")
    result = _cli("report", str(path), "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert name in one_error_line(result.stderr)
    assert (out / "report.md").read_text() == "previous report"
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]


def test_run_dir_evaluation_section_and_grid(tmp_path):
    run_dir = write_run_dir(
        tmp_path / "run",
        ({"step": s, "time": 1.7e9 + s, "train/total_loss": 50 / (s + 10),
          "train/rec_loss": 0.5 / (s + 10), "train/kl_loss": 100.0 + s}
         for s in range(0, 400, 10)),
        "model:\n  lossconfig:\n    disc_start: 1000\n    kl_weight: 1.0e-6\n"
        "trainer:\n  train_num_steps: 400\n  log_freq: 10\n",
        {"nmse": 0.0123, "rmse": 0.0456, "ssim": 0.912, "psnr": 31.4, "scale_factor": 0.83,
         "latent": {"mean": 0.01, "std": 1.2}, "split": "test", "n_images": 16,
         "checkpoint": "checkpoints/model-390.pt", "grid": "samples/grid.png"})
    (run_dir / "samples").mkdir()
    Image.new("RGB", (96, 32), (40, 90, 160)).save(run_dir / "samples" / "grid.png")
    out = tmp_path / "out"
    summary = make_report(run_dir, out, progress=False)
    assert summary.evaluation.nmse == pytest.approx(0.0123)
    md = (out / "report.md").read_text()
    assert re.search(r"^## Evaluation$", md, re.M)
    assert "0.0123" in md and "31.4" in md and "figures/eval_grid.png" in md
    assert (out / "figures" / "eval_grid.png").read_bytes() == \
        (run_dir / "samples" / "grid.png").read_bytes()
    assert (out / "report.html").read_text().count("data:image/png;base64,") == len(FIGURES) + 1


def test_failing_run_is_called_failing_with_its_evidence(real_run_csv, tmp_path):
    from logfactory import plant_divergence, plant_nan, read_real_run, write_single_log

    frame = plant_divergence(plant_nan(read_real_run(real_run_csv), "train/rec_loss", 70000),
                             "train/rec_loss", 130000)
    log = write_single_log(None, tmp_path / "train.log", frame=frame)
    out = tmp_path / "out"
    summary = make_report(log, out, progress=False)
    assert summary.verdict == "failing"
    md = (out / "report.md").read_text()
    assert "**Verdict: failing.**" in md and "**The run is failing.**" in md
    assert "non_finite" in md and "divergence" in md and "70,000" in md
    assert "excellent" not in md.lower() and "healthy" not in md.lower()
    row = next(line for line in md.splitlines() if line.startswith("| `train/rec_loss`"))
    assert "CRITICAL" in row
    assert "**Any NaN or Inf?** Yes" in md


def test_html_figures_are_re_encoded_only_when_redrawn(tmp_path):
    import base64

    from radiovae.io import atomic_write_bytes
    from radiovae.report.render import file_reader

    png = tmp_path / "figures" / "a.png"
    atomic_write_bytes(png, b"first")
    read = file_reader(tmp_path)
    uri = read("figures/a.png")
    assert base64.b64decode(uri.split(",", 1)[1]) == b"first"
    assert read("figures/a.png") is uri                      # cached: not re-encoded
    atomic_write_bytes(png, b"second, redrawn")               # watch redraws atomically
    assert base64.b64decode(read("figures/a.png").split(",", 1)[1]) == b"second, redrawn"
    assert read("figures/missing.png") is None


def test_radiovae_records_with_learned_logvar_and_late_discriminator_terms(tmp_path):
    """A radiovae run: logvar trains (the NLL goes negative), the discriminator's terms appear only
    from disc_start, and one skipped step is flagged. None of that may crash the report, count as
    missing values, or turn the flag into a metric."""
    rows = []
    for i, step in enumerate(range(0, 400, 5)):
        logvar = -0.01 * i
        rec = 0.05 * np.exp(-i / 40) + 0.01
        row = {"step": step, "time": 1.7e9 + step, "train/rec_loss": rec, "train/logvar": logvar,
               "train/nll_loss": 4096 * (rec / np.exp(logvar) + logvar), "train/kl_loss": 50 + i,
               "train/disc_factor": float(step >= 200), "lr": 1e-4}
        if step >= 200:
            row.update({"train/disc_loss": 1.0 - 0.001 * i, "train/logits_real": 0.01 * i,
                        "train/logits_fake": -0.01 * i})
        rows.append(row)
    rows[50].update({"train/rec_loss": float("nan"), "skipped": 1.0})
    log = tmp_path / "run" / "metrics.jsonl"
    log.parent.mkdir()
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = make_report([log.parent], tmp_path / "out", progress=False)
    assert "skipped" not in summary.metrics
    assert summary.metrics["train/disc_loss"].n_nonfinite == 0
    assert summary.metrics["train/disc_loss"].first == pytest.approx(0.96)
    assert summary.metrics["train/rec_loss"].n_nonfinite == 1
    assert min(r["train/nll_loss"] for r in rows) < 0
    assert "no fixed multiple of rec_loss" in (tmp_path / "out" / "report.md").read_text()
