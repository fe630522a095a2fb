"""The typed summary: summary.json is its JSON and reads back to the same Summary; report/ reads
it by attribute; the discriminator is judged by one rule; marks come from the findings."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiovae.analysis import analyze, schema
from radiovae.analysis.discriminator import judge
from radiovae.analysis.schema import SCHEMA_VERSION, Summary, SummaryError, load_summary
from radiovae.errors import UserError
from radiovae.report.write import write_summary
from radiovae.runlog import load_run
from radiovae.runlog.run import Run

REPORT = Path(__file__).resolve().parents[1] / "src" / "radiovae" / "report"


@pytest.fixture(scope="module")
def real(real_run_csv) -> Summary:
    return analyze(load_run(real_run_csv))


def test_summary_json_reads_back_to_the_same_summary(real, tmp_path):
    path = write_summary(real, tmp_path)
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION == 1
    assert list(data)[0] == "schema_version"
    back = load_summary(tmp_path)              # the folder or the file
    assert back == real
    assert back.steps.first == 35000 and back.steps.last == 149900
    assert back.metrics["train/rec_loss"].trend_test.last_fifth.records == 230
    assert [f.id for f in back.findings] == [f.id for f in real.findings]
    assert isinstance(back.findings[0].span, tuple)


@pytest.mark.parametrize("mutate, said", [
    (lambda d: d.update(schema_version=99), "schema_version 99"),
    (lambda d: d.update(bogus=1), "no field 'bogus'"),
    (lambda d: d["steps"].update(first_step=1), "no field 'first_step'"),
    (lambda d: d.update(findings={"id": 1}), "expected an object"),
])
def test_a_summary_radiovae_did_not_write_is_refused_in_one_line(real, tmp_path, mutate, said):
    data = real.to_json()
    mutate(data)
    (tmp_path / "summary.json").write_text(json.dumps(data))
    with pytest.raises(SummaryError) as e:
        load_summary(tmp_path / "summary.json")
    assert said in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, UserError)          # the CLI's one line and exit 2


def test_missing_and_garbage_summaries_are_refused(tmp_path):
    with pytest.raises(SummaryError, match="no such file"):
        load_summary(tmp_path / "nope.json")
    (tmp_path / "summary.json").write_bytes(b"\x00{not json")
    with pytest.raises(SummaryError, match="not a summary.json"):
        load_summary(tmp_path)


def _schema_fields() -> set[str]:
    from radiovae.analysis import compare

    out = set()
    for obj in [*vars(schema).values(), *vars(compare).values()]:
        if isinstance(obj, type) and dataclasses.is_dataclass(obj):
            out |= {f.name for f in dataclasses.fields(obj)}
    return out


def test_report_reads_no_summary_field_by_string_key():
    """No ``x["verdict"]`` / ``x.get("steps")`` in report/ for any field of the summary's (or the
    comparison's) types: those are attributes. (Mappings keyed by the run's own names — metrics, roles, config keys,
    phase names — stay mappings.)"""
    fields = _schema_fields()
    fields -= {"step", "source", "records", "label", "metric", "text", "smoothing", "note"}
    hits = []
    for path in [*REPORT.glob("*.py"), *REPORT.glob("sections/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            key = None
            if (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
                    and isinstance(node.slice, ast.Constant)):
                key = node.slice.value
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "get" and node.args
                  and isinstance(node.args[0], ast.Constant)):
                key = node.args[0].value
            if path.name == "charts.py" and key == "series":
                continue                  # a chart panel's own JSON (charts.panel), not a field
            if isinstance(key, str) and key in fields:
                hits.append(f"{path.name}:{node.lineno} {key!r}")
    assert not hits, hits


def _disc_run(real_logit: float, fake_logit: float, loss: float, n: int = 300) -> Run:
    step = np.arange(n) * 10
    on = step >= 1000
    rng = np.random.default_rng(0)
    rec = 0.05 * np.exp(-np.arange(n) / 80) + 0.005
    table = pd.DataFrame({
        "step": step, "train/total_loss": 4096 * rec, "train/nll_loss": 4096 * rec,
        "train/rec_loss": rec, "train/kl_loss": 100 + np.arange(n, dtype=float),
        "train/disc_factor": on.astype(float), "train/g_loss": np.where(on, -fake_logit, 0.0),
        "train/d_weight": np.where(on, 1.0, 0.0),
        "train/disc_loss": np.where(on, loss + 0.002 * rng.standard_normal(n), np.nan),
        "train/logits_real": np.where(on, real_logit + 0.002 * rng.standard_normal(n), np.nan),
        "train/logits_fake": np.where(on, fake_logit + 0.002 * rng.standard_normal(n), np.nan),
        "lr": np.full(n, 1e-4)})
    return Run(table=table, config={"kl_weight": 1e-6, "disc_start": 1000, "total_steps": n * 10,
                                    "gradient_accumulate_every": 2})


@pytest.mark.parametrize("real_logit, fake_logit, loss, state, answer", [
    (0.0, 0.0, 1.0, "at_chance", "no"),          # at chance: the finding, and the answer's no
    (0.03, -0.03, 0.97, "at_chance", "no"),
    (0.1, -0.1, 0.9, "weak", "yes"),             # a weak signal, no finding
    (0.6, -0.6, 0.4, "separates", "yes"),
    (3.0, -3.0, 0.01, "wins", "unclear"),
])
def test_the_discriminator_is_judged_by_one_rule(real_logit, fake_logit, loss, state, answer):
    s = analyze(_disc_run(real_logit, fake_logit, loss))
    d = s.discriminator
    assert d.state == state
    assert d.logit_gap_median_second_half == pytest.approx(real_logit - fake_logit, abs=0.01)
    assert d.disc_loss_median_second_half == pytest.approx(loss, abs=0.01)
    assert d.rows == 200 and d.first_step == 1000 and d.second_half_from == 2000
    untrained = [f for f in s.findings if f.id == "discriminator_untrained"]
    working = s.answer("discriminator_working")
    assert bool(untrained) is (state == "at_chance")
    assert working.answer == answer
    if untrained:    # the answer is the finding's, with its numbers
        assert working.findings == ["discriminator_untrained"]
        assert untrained[0].evidence["logit_gap_median_second_half"] == \
            pytest.approx(d.logit_gap_median_second_half)
    else:
        assert f"gap {d.logit_gap_median_second_half:.3g}"[:8] in working.text.replace("−", "-")


def test_judge_needs_all_three_terms():
    step = np.arange(50)
    on = np.ones(50, bool)
    assert judge(step, on, np.ones(50), None, np.zeros(50)).state is None
    assert judge(step, on, np.ones(50), np.zeros(50), np.zeros(50)).state == "at_chance"
    assert judge(step[:10], on[:10], np.ones(10), np.zeros(10), np.zeros(10)).state == "too_few"


def test_marks_come_from_the_findings_steps_and_span(real):
    for f, m in zip(real.findings, real.marks.findings, strict=True):
        assert (m.id, m.severity, m.metric) == (f.id, f.severity, f.metric)
        assert m.span == (list(f.span) if f.span is not None else None)
        assert set(f.steps) <= set(m.steps)
    assert real.marks.switch == real.phase("vae_gan").start_step == 50100
    assert real.marks.resumes == []


def test_the_schema_document_lists_every_field():
    """docs/summary-schema.md names every field of every type of the summary, under its type."""
    doc = (REPORT.parents[2] / "docs" / "summary-schema.md").read_text()
    sections = {s.split("\n", 1)[0].strip(): s for s in ("\n" + doc).split("\n### ")[1:]}
    sections["Summary"] = doc.split("## Summary", 1)[1].split("## The parts", 1)[0]
    missing = []
    seen, todo = set(), [Summary]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        text = sections.get(cls.__name__, "")
        missing += [f"{cls.__name__}.{f.name}" for f in dataclasses.fields(cls)
                    if f"`{f.name}`" not in text]
        for hint in typing_hints(cls):
            todo.append(hint)
    assert not missing, missing


def typing_hints(cls) -> list[type]:
    import typing

    out = []
    for t in typing.get_type_hints(cls).values():
        stack = [t]
        while stack:
            a = stack.pop()
            if dataclasses.is_dataclass(a):
                out.append(a)
            stack += list(typing.get_args(a))
    return out
