"""radiovae compare: runs of different step ranges, one resumed (two RadioDiff logs), one without
discriminator terms (the real CSV as it is), one from Lightning's CSVLogger; the numbers of the
table are checked against the records with an EMA computed here, not the one under test."""

from __future__ import annotations

import json

import numpy as np
import pytest
from logfactory import (
    plant_spike,
    read_real_run,
    with_disc_terms,
    write_csv,
    write_radiodiff_logs,
)
from loggerfactory import LDM_PROJECT, write_lightning_run

from radiovae.analysis import analyze
from radiovae.analysis.compare import Entry, compare
from radiovae.analysis.smoothing import smoothed_last
from radiovae.cli import main
from radiovae.fmt import num
from radiovae.report.compare import default_labels, split_run_spec
from radiovae.runlog import load_run


def ema(y: np.ndarray, w: float = 0.6) -> np.ndarray:
    """TensorBoard's smoothing, written out: last = last*w + (1-w)*v, debiased by 1 - w**k."""
    out, last = [], 0.0
    for k, v in enumerate(y, start=1):
        last = last * w + (1 - w) * v
        out.append(last / (1 - w ** k))
    return np.asarray(out)


@pytest.fixture(scope="module")
def runs(real_run_csv, tmp_path_factory):
    """A: the real run + discriminator terms as two RadioDiff logs (resumed at 90,000);
    B: the real CSV itself (no discriminator terms) cut at 100,000;
    C: Lightning, steps 60,000-149,900, rec_loss x0.8, a spike, disc_start 60,001."""
    tmp = tmp_path_factory.mktemp("compare")
    real = read_real_run(real_run_csv)
    a = write_radiodiff_logs(real_run_csv, tmp / "a", resume_step=90000, overlap_steps=2000)
    b_frame = real[real["step"] <= 100000]
    b = write_csv(b_frame, tmp / "b" / "plain_run.csv")
    c_frame = with_disc_terms(real[real["step"] >= 60000].reset_index(drop=True), seed=3)
    c_frame["train/rec_loss"] *= 0.8
    c_frame = plant_spike(c_frame, "train/rec_loss", 120000, factor=60.0)
    project = json.loads(json.dumps(LDM_PROJECT))
    project["model"]["params"]["lossconfig"]["params"]["disc_start"] = 60001
    c = write_lightning_run(tmp / "c", c_frame, project=project)
    frames = {"A": with_disc_terms(real), "B": b_frame, "C": c_frame}
    return tmp, [a, [b], [c]], frames


@pytest.fixture(scope="module")
def comparison(runs):
    _, specs, _ = runs
    entries = []
    for label, paths in zip("ABC", specs, strict=True):
        run = load_run(paths)
        entries.append(Entry(label, run, analyze(run)))
    return compare(entries).to_json()     # comparison.json: the contract checked here


def test_alignment_and_runs(comparison):
    assert comparison["common_steps"] == {"first_step": 60000, "last_step": 100000}
    a, b, c = comparison["runs"]
    assert a["resume_steps"] == [90000] and b["resume_steps"] == c["resume_steps"] == []
    assert (a["steps"]["first"], a["steps"]["last"]) == (35000, 149900)
    assert (b["steps"]["first"], b["steps"]["last"]) == (35000, 100000)
    assert (c["steps"]["first"], c["steps"]["last"]) == (60000, 149900)
    # the switch as observed (where disc_factor turns on), whatever disc_start says
    assert a["switch_step"] == b["switch_step"] == 50100
    assert comparison["smoothing"]["weight"] == 0.6


def test_table_numbers_match_the_records(comparison, runs):
    _, _, frames = runs
    rec = next(s for s in comparison["series"] if s["key"] == "rec")
    for label, facts in zip("ABC", rec["runs"], strict=True):
        df = frames[label]
        y = df["train/rec_loss"].to_numpy()
        # the figures' smoothing: the EMA of the means of groups of ceil(n / 1,000) records
        size = -(-len(y) // 1000)
        means = [y[i:i + size].mean() for i in range(0, len(y), size)]
        sm = np.repeat(ema(np.asarray(means)), size)[:len(y)]
        steps = df["step"].to_numpy()
        assert facts["records"] == len(y) and facts["last_step"] == steps[-1]
        assert facts["final"] == pytest.approx(y[-1], rel=1e-9)
        # the single report's smoothed latest: where its figure's smoothed line ends
        assert facts["final_smoothed"] == pytest.approx(smoothed_last(y), rel=1e-9)
        i = int(np.argmin(sm))
        assert facts["lowest_smoothed"] == pytest.approx(sm[i], rel=1e-9)
        assert facts["lowest_step"] == steps[i]
        assert facts["final_smoothed"] == pytest.approx(sm[-1], rel=1e-9)   # one smoothing
        j = int(np.searchsorted(steps, 100000, side="right")) - 1
        assert facts["at_common"] == {"step": 100000, "smoothed": pytest.approx(sm[j], rel=1e-9)}
    # A's values are the resumed timeline's, not the lost one's (+50 % on rec_loss in 90-92k)
    a = rec["runs"][0]
    assert a["max"] == pytest.approx(frames["A"]["train/rec_loss"].max())
    # adversarial / schedule terms get no "lowest"
    d = next(s for s in comparison["series"] if s["key"] == "d_weight")
    assert all("lowest_smoothed" not in f for f in d["runs"])


def test_no_discriminator_run_and_unique_findings(comparison):
    disc = next(s for s in comparison["series"] if s["key"] == "disc_loss")
    assert disc["runs"][1] is None and disc["runs"][0] and disc["runs"][2]
    only = comparison["findings"]["only_in"]
    assert [f["id"] for f in only["A"]].count("resumed") == 1
    spikes = [f for f in only["C"] if f["id"] == "spike" and f["metric"] == "train/rec_loss"]
    assert spikes and "120,000" in spikes[0]["message"]
    assert not [f for f in only["A"] + only["B"] if f["id"] == "spike"
                and f["metric"] == "train/rec_loss"]
    for label, found in only.items():      # nothing listed as unique is found in another run
        others = [o for o in "ABC" if o != label]
        for f in found:
            assert not any(g["id"] == f["id"] and g["metric"] == f["metric"]
                           for o in others for g in only[o])


def test_config_differences(comparison):
    diff = {d["key"]: d["values"] for d in comparison["config"]["differ"]}
    assert diff["disc_start"] == [50001, None, 60001]
    assert comparison["config"]["without_config"] == ["B"]
    val = [v for v in comparison["validation"] if v["label"] == "C"]
    assert {v["metric"] for v in val} >= {"val/rec_loss"}


def test_cli_writes_markdown_html_json_and_figures(runs, comparison, tmp_path, capsys):
    _, specs, _ = runs
    out = tmp_path / "cmp"
    a = ",".join(str(p) for p in specs[0])
    assert main(["compare", a, str(specs[1][0]), str(specs[2][0]), "--labels", "A,B,C",
                 "--out", str(out)]) == 0
    data = json.loads((out / "comparison.json").read_text())
    assert data["common_steps"] == comparison["common_steps"]
    md = (out / "report.md").read_text()
    rec = next(s for s in comparison["series"] if s["key"] == "rec")
    row = next(ln for ln in md.splitlines() if ln.startswith("| reconstruction loss | A |"))
    assert num(rec["runs"][0]["final_smoothed"]) in row and num(rec["runs"][0]["lowest_step"]) in row
    assert "EMA 0.6" in md and "weight 0.6" in md
    figs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert "compare_rec.png" in figs and "compare_disc_loss.png" in figs
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(figs)
    # interactive: every step-axis figure has its chart, one series per run that logs it
    charts = json.loads(html.split('id="radiovae-charts">', 1)[1].split("</script>", 1)[0])
    assert set(charts["figures"]) == {p.removesuffix(".png") for p in figs}
    rec_series = charts["figures"]["compare_rec"][0]["series"]
    assert [s["label"] for s in rec_series] == [f"{lb} (train/rec_loss)" for lb in "ABC"]
    assert len(charts["figures"]["compare_disc_loss"][0]["series"]) == 2   # B has none
    capsys.readouterr()


@pytest.mark.parametrize("argv, message", [
    (["compare", "/nonexistent/run.log", "/nonexistent/b.log"], "no such file"),
    (["compare", "RUN1"], "at least two runs"),
    (["compare", "A", "B", "--labels", "x"], "--labels gives 1 name(s) for 2 runs"),
])
def test_bad_input_is_one_line(argv, message, capsys, tmp_path):
    for i, arg in enumerate(argv):
        if arg in ("RUN1", "A", "B"):
            p = tmp_path / f"{arg}.csv"
            p.write_text("step,loss\n1,0.5\n2,0.4\n")
            argv[i] = str(p)
    assert main(argv + ["--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_run_specs_and_labels(tmp_path):
    odd = tmp_path / "a,b.log"
    odd.write_text("x")
    assert split_run_spec(str(odd)) == [odd]
    assert split_run_spec("x.log,y.log") == [tmp_path.__class__("x.log"),
                                              tmp_path.__class__("y.log")]
    for d in ("exp1/csv/version_0", "exp2/csv/version_0"):
        (tmp_path / d).mkdir(parents=True)
    labels = default_labels([[tmp_path / "exp1/csv/version_0"], [tmp_path / "exp2/csv/version_0"],
                             [tmp_path / "exp1/csv/version_0", odd]])
    assert labels[0] != labels[1] and labels[0].startswith("exp1")
    assert labels[2].endswith("(+1 files)")


def test_progress_panel_when_step_ranges_differ_widely(runs, comparison):
    """A run covering under a fifth of the common axis gets a second panel over each run's own
    progress; the caption says so. Runs of comparable ranges get none."""
    from radiovae.report.compare import build_compare_document
    from radiovae.report.render import to_markdown

    assert comparison["progress_panel"] is False
    tmp, specs, frames = runs
    short = write_csv(frames["B"][frames["B"]["step"] < 45000], tmp / "short" / "short.csv")
    entries = [Entry(lb, r, analyze(r)) for lb, r in
               (("long", load_run(specs[0])), ("short", load_run([short])))]
    wide = compare(entries)
    assert wide.progress_panel is True
    assert (wide.common_steps.first_step, wide.common_steps.last_step) == (35000, 44900)
    md = to_markdown(build_compare_document(wide, {"rec": "figures/compare_rec.png",
                                                   "rec:progress": "figures/p.png"}))
    assert "over each run's own progress" in md and "figures/p.png" in md
