"""The labelled diagnosis suite (tests/diagnosis_cases.py): every case gets its findings
(id, metric, step range, severity) and its verdict, and nothing false at warning level or above.

Cases the analysis gets wrong today are strict xfail with what must change (issue 7); a fix makes
them XPASS, which fails until the mark is removed. ``benchmarks/diagnosis.py`` prints the table.
"""

from __future__ import annotations

import pytest
from diagnosis_cases import XFAIL, build_all
from diagnosis_truth import diagnose, table

TRAINED = ["healthy", "resumed_overlap", "nan_step", "disc_never_stepped", "logvar_frozen",
           "d_weight_capped", "lr_x1000"]
FORMATS = ["csv", "radiodiff_log", "console", "jsonl", "tensorboard", "tensorboard_radiodiff"]
SYNTHETIC = ["healthy_vae", "nan_isolated", "nan_persisting", "divergence", "spike",
             "negative_nll_learned_logvar", "lr_zero_full_precision", "logvar_frozen",
             "console_healthy", "last_disc_line_absent", "ldm_healthy", "ldm_divergence", "ldm_stopped", "ldm_console", "unknown_kind",
             "resumed_logs"]
# each run dir read again from its train.log and from its TensorBoard events alone
AS = [f"trained/{n}@{fmt}" for n in TRAINED if n != "resumed_overlap" for fmt in ("log", "tb")]
NAMES = ([f"trained/{n}" for n in TRAINED] + AS + [f"formats/{n}" for n in FORMATS]
         + [f"synthetic/{n}" for n in SYNTHETIC])


def _param(name: str):
    reason = XFAIL.get(name)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(name, marks=marks, id=name)


@pytest.fixture(scope="session")
def suite(real_run_csv, tmp_path_factory):
    """Every case, built once per session (the trained corpus: ~25-45 s on 2 busy cores)."""
    cases = build_all(real_run_csv, tmp_path_factory.mktemp("diagnosis_suite"))
    return {c.name: c for c in cases}


@pytest.fixture(scope="session")
def results(suite):
    return {name: diagnose(case) for name, case in suite.items()}


def test_the_suite_is_what_the_tests_name(suite):
    assert sorted(suite) == sorted(NAMES)
    assert set(XFAIL) <= set(NAMES)
    for case in suite.values():   # every case states its truth: findings, or none at all
        assert case.verdict in ("healthy", "attention", "failing")
        assert case.expect or case.verdict == "healthy", case.name


@pytest.mark.parametrize("name", [_param(n) for n in NAMES])
def test_case_gets_its_diagnosis(results, name):
    r = results[name]
    assert r.ok, f"{name}: {r.explain()}"


def test_no_warning_on_healthy_runs(results):
    """Healthy runs (those the analysis already gets right) raise no warning or critical."""
    for name, r in results.items():
        if r.case.verdict == "healthy" and name not in XFAIL:
            loud = [(f["id"], f["metric"], f["severity"]) for f in r.findings
                    if f["severity"] in ("warning", "critical")]
            assert not loud, f"{name}: {loud}"


def test_table_counts_every_expected_finding(results):
    text = table(list(results.values()))
    expected = sum(len(r.case.expect) for r in results.values())
    assert f"{'all':<26}{expected:>9}" in text
    assert "verdict accuracy" in text
