"""The labelled diagnosis suite (tests/diagnosis_cases.py): every case gets its findings
(id, metric, step range, severity) and its verdict, and nothing false at warning level or above.
``benchmarks/diagnosis.py`` prints the table.
"""

from __future__ import annotations

import pytest
from diagnosis_cases import build_all
from diagnosis_truth import diagnose

TRAINED = ["healthy", "resumed_overlap", "nan_step", "disc_never_stepped", "logvar_frozen",
           "d_weight_capped", "lr_x1000"]
FORMATS = ["csv", "radiodiff_log", "console", "jsonl", "tensorboard", "tensorboard_radiodiff"]
SYNTHETIC = ["healthy_vae", "nan_isolated", "nan_persisting", "divergence", "spike",
             "negative_nll_learned_logvar", "lr_zero_full_precision", "logvar_frozen",
             "console_healthy", "last_disc_line_absent", "ldm_healthy", "ldm_divergence",
             "ldm_stopped", "ldm_console", "unknown_kind", "resumed_logs"]
# each run dir read again from its train.log and from its TensorBoard events alone
AS = [f"trained/{n}@{fmt}" for n in TRAINED if n != "resumed_overlap" for fmt in ("log", "tb")]
NAMES = ([f"trained/{n}" for n in TRAINED] + AS + [f"formats/{n}" for n in FORMATS]
         + [f"synthetic/{n}" for n in SYNTHETIC])
LOUD = ("warning", "critical")


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
    for case in suite.values():   # every case states its truth: findings, or none at all
        assert case.verdict in ("healthy", "attention", "failing")
        assert case.expect or case.verdict == "healthy", case.name
        if case.verdict == "healthy":   # so a warning on a healthy run is always a false one
            assert not [e for e in case.expect + case.allowed if e.severity in LOUD], case.name


@pytest.mark.parametrize("name", NAMES)
def test_case_gets_its_diagnosis(results, name):
    r = results[name]
    assert r.ok, f"{name}: {r.explain()}"
