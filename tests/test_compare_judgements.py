"""radiovae compare judges too: the findings and causes only one run has (id, metric role and
severity), each config setting once, and runs of different kinds refused. Runs are the real
RadioDiff run written as its file log with gradient_accumulate_every 1 (no discriminator lines:
train_vae.py never steps the discriminator then) and 2 (with discriminator lines)."""

from __future__ import annotations

import copy
import json

import pytest
from logfactory import (
    RADIODIFF_CONFIG,
    ldm_frame,
    ldm_steps_frame,
    read_real_run,
    with_disc_terms,
    write_ldm_log,
    write_log,
)
from summaries import summary_json

from radiovae.analysis import analyze
from radiovae.analysis.compare import Comparison, Entry, compare
from radiovae.analysis.schema import Summary
from radiovae.cli import main
from radiovae.errors import UserError
from radiovae.report.compare import build_compare_document
from radiovae.report.render import to_markdown
from radiovae.runlog import load_run

CAUSE = {"id": "accumulation_one_discriminator_idle", "severity": "critical",
         "text": "gradient_accumulate_every = 1: train_vae.py steps the discriminator only at "
                 "accumulation index >= 1, so it never trains",
         "config_evidence": {"trainer.gradient_accumulate_every": 1},
         "record_evidence": {"disc_lines": 0}, "explains": ["discriminator_untrained"]}


@pytest.fixture(scope="module")
def logs(real_run_csv, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("judge")
    real = read_real_run(real_run_csv)
    one = copy.deepcopy(RADIODIFF_CONFIG)
    one["trainer"]["gradient_accumulate_every"] = 1
    ga1 = write_log(tmp / "ga1" / "train.log", real, config=one)
    ga2 = write_log(tmp / "ga2" / "train.log", with_disc_terms(real, learning=True),
                    config=RADIODIFF_CONFIG)
    ldm = write_ldm_log(tmp / "ldm" / "train.log", ldm_frame(ldm_steps_frame(steps=3001)))
    return tmp, ga1, ga2, ldm


@pytest.fixture(scope="module")
def analysed(logs):
    _, ga1, ga2, _ = logs
    return [(label, load_run(p)) for label, p in (("ga1", ga1), ("ga2", ga2))]


def _entries(analysed, summaries=None) -> list[Entry]:
    return [Entry(label, run, summaries[i] if summaries else analyze(run))
            for i, (label, run) in enumerate(analysed)]


def _md(comparison) -> str:
    return to_markdown(build_compare_document(Comparison.from_json(comparison), {}))


def test_accumulation_one_run_has_the_untrained_discriminator_finding(analysed):
    c = compare(_entries(analysed)).to_json()
    only = c["findings"]["only_in"]
    (f,) = [f for f in only["ga1"] if f["id"] == "discriminator_untrained"]
    assert f["severity"] == "warning" and f["metric"] == "train/g_loss"
    assert "gradient_accumulate_every = 1" in f["message"]
    assert not [g for g in only["ga2"] if g["id"] == "discriminator_untrained"]
    assert {"id": "weight_saturated", "metric_role": "d_weight", "severity": "info"} \
        in c["findings"]["shared"]
    md = _md(c)
    row = next(ln for ln in md.splitlines()
               if ln.startswith("| **ga1**") and "discriminator_untrained" in ln)
    assert row.startswith("| **ga1** | warning | `discriminator_untrained` | `train/g_loss` |")
    assert "findings only one run has: none" not in md.lower()


def test_same_id_at_another_severity_and_causes_count_as_different(analysed):
    base = [summary_json(run) for _, run in analysed]
    a, b = (copy.deepcopy(s) for s in base)
    # both runs: the same discriminator_untrained, but a warning in one and info in the other
    a["findings"] = [f for f in a["findings"] if f["id"] == "discriminator_untrained"]
    b["findings"] = [{**a["findings"][0], "severity": "info", "message": "judged milder"}]
    a["causes"] = [CAUSE, {**CAUSE, "id": "both", "severity": "info", "text": "in both"}]
    b["causes"] = [{**CAUSE, "id": "both", "severity": "info", "text": "in both"}]
    c = compare(_entries(analysed, [Summary.from_json(a), Summary.from_json(b)])).to_json()
    only = c["findings"]["only_in"]
    assert [(f["id"], f["severity"]) for f in only["ga1"]] == [("discriminator_untrained",
                                                                "warning")]
    assert [(f["id"], f["severity"]) for f in only["ga2"]] == [("discriminator_untrained", "info")]
    assert c["findings"]["shared"] == []
    assert c["causes"]["only_in"] == {"ga1": [{"id": CAUSE["id"], "severity": "critical",
                                               "text": CAUSE["text"],
                                               "explains": ["discriminator_untrained"]}],
                                      "ga2": []}
    assert c["causes"]["shared"] == [{"id": "both", "severity": "info"}]
    md = _md(c)
    assert "Causes only one run has" in md
    cause_row = next(ln for ln in md.splitlines() if "accumulation" in ln and "never trains" in ln)
    assert cause_row.startswith("| **ga1** | critical |")
    assert "in both" not in md                      # shared causes are not listed as unique
    # a run with no causes: every cause of the other is its own
    b["causes"] = []
    c = compare(_entries(analysed, [Summary.from_json(a), Summary.from_json(b)])).to_json()
    assert [x["id"] for x in c["causes"]["only_in"]["ga1"]] == [CAUSE["id"], "both"]
    assert c["causes"]["only_in"]["ga2"] == [] and c["causes"]["shared"] == []


def test_each_config_setting_once(analysed):
    c = compare(_entries(analysed)).to_json()
    diff = {d["key"]: d for d in c["config"]["differ"]}
    assert diff["trainer.gradient_accumulate_every"]["values"] == [1, 2]
    assert diff["trainer.gradient_accumulate_every"]["source"] == "raw"
    assert "gradient_accumulate_every" not in diff
    assert [k for k in diff if k.endswith("gradient_accumulate_every")] == \
        ["trainer.gradient_accumulate_every"]
    md = _md(c)
    rows = [ln for ln in md.splitlines() if ln.startswith("| `") and "gradient_accumulate" in ln]
    assert len(rows) == 1 and rows[0].startswith("| `trainer.gradient_accumulate_every` | 1 | 2 |")


def test_bare_key_stays_when_its_dotted_twin_says_otherwise(analysed):
    """The bare key is dropped only when a dotted key holds its values in every run."""
    (la, ra), (lb, rb) = analysed
    ra2, rb2 = copy.copy(ra), copy.copy(rb)
    ra2.config = {**ra.config, "gradient_accumulate_every": 4}     # not what the raw says
    rb2.config = dict(rb.config)
    c = compare([Entry(la, ra2, analyze(ra)), Entry(lb, rb2, analyze(rb))]).to_json()
    diff = {d["key"]: d["values"] for d in c["config"]["differ"]}
    assert diff["gradient_accumulate_every"] == [4, 2]
    assert diff["trainer.gradient_accumulate_every"] == [1, 2]


def test_runs_of_different_kinds_are_refused(logs, analysed, capsys):
    tmp, ga1, _, ldm = logs
    out = tmp / "refused"
    assert main(["compare", str(ga1), str(ldm), "--labels", "vae,diffusion",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "different kinds" in err
    assert "vae is a first-stage VAE run" in err and "diffusion is a stage-2" in err
    assert not out.exists()
    ldm_run = load_run(ldm)
    with pytest.raises(UserError, match="different kinds"):
        compare([_entries(analysed)[0], Entry("d", ldm_run, analyze(ldm_run))])
    # two stage-2 runs compare
    c = compare([Entry("d1", ldm_run, analyze(ldm_run)),
                 Entry("d2", ldm_run, analyze(ldm_run))]).to_json()
    assert [r["kind"] for r in c["runs"]] == ["ldm", "ldm"]
    json.dumps(c)


def test_two_stage2_runs_compare_without_vae_language(logs, tmp_path):
    _, _, _, ldm = logs
    out = tmp_path / "ldm_cmp"
    assert main(["compare", str(ldm), str(ldm), "--labels", "d1,d2", "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "| **d1** |" in md and "VAE" not in md
    c = json.loads((out / "comparison.json").read_text())
    assert [r["kind"] for r in c["runs"]] == ["ldm", "ldm"]
    assert c["findings"]["only_in"] == {"d1": [], "d2": []}     # one log twice: nothing apart
