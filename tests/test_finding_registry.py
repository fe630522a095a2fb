"""A new finding kind is one module and one registry entry: registered from outside the package,
it is detected, counts in the verdict, is drawn where its module says and is written in the
report, with nothing else changed."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

from radiovae.analysis import analyze, findings
from radiovae.analysis.findings import Finding, finding
from radiovae.report.content import build_document
from radiovae.report.render import to_markdown
from radiovae.runlog.run import Run


def _toy_kind() -> types.ModuleType:
    kind = types.ModuleType("toy_lr_too_high")
    kind.ID = "lr_too_high"
    kind.ON_CURVE = True

    def detect(ctx) -> list[Finding]:
        lr = ctx.col("lr")
        if lr is None:
            return []
        high = np.flatnonzero(lr > 1e-3)
        if not len(high):
            return []
        steps = [int(s) for s in ctx.step[high]]
        return [finding(kind.ID, "warning", ctx.name("lr"),
                        f"lr above 1e-3 in {len(high)} records", steps=steps, rows=len(high))]

    kind.detect = detect
    kind.recommend = lambda f, ctx, found: "Lower the learning rate."
    return kind


@pytest.fixture
def toy():
    kind = _toy_kind()
    findings.register(kind)
    yield kind
    findings.unregister(kind.ID)


def _run() -> Run:
    n = 200
    step = np.arange(n) * 10
    rec = 0.05 * np.exp(-np.arange(n) / 60) + 0.005
    lr = np.full(n, 1e-4)
    lr[[50, 120]] = 5e-3
    table = pd.DataFrame({"step": step, "train/total_loss": 4096 * rec,
                          "train/nll_loss": 4096 * rec, "train/rec_loss": rec,
                          "train/kl_loss": 100 + np.arange(n, dtype=float), "lr": lr})
    return Run(table=table, config={"total_steps": n * 10})


def test_a_registered_kind_is_detected_drawn_and_reported(toy):
    s = analyze(_run())
    (f,) = [x for x in s.findings if x.id == "lr_too_high"]
    assert f.steps == [500, 1200] and f.evidence["rows"] == 2
    assert f.recommendation == "Lower the learning rate."
    assert s.verdict == "attention" and "lr_too_high" in s.verdict_reason
    (m,) = s.marks.on("lr")
    assert m.id == "lr_too_high" and m.steps == [500, 1200]
    md = to_markdown(build_document(s, {}))
    assert "lr above 1e-3 in 2 records" in md and "Lower the learning rate." in md


def test_without_it_the_run_is_healthy_and_twice_is_refused(toy):
    findings.unregister(toy.ID)
    try:
        s = analyze(_run())
        assert not [x for x in s.findings if x.id == "lr_too_high"] and s.marks.on("lr") == []
    finally:
        findings.register(toy)
    with pytest.raises(ValueError, match="already registered"):
        findings.register(toy)
    with pytest.raises(TypeError, match="'detect'"):
        findings.register(types.SimpleNamespace(ID="x"))
