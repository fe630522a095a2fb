"""One run, one diagnosis: the shared real run as CSV, RadioDiff file log, console capture, JSONL
and TensorBoard events reads the same and gets the same verdict and warning / critical findings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from runformats import FORMATS, lr_of_schedule, write_formats
from summaries import summary_json

from radiovae import load_run

REFERENCE = "radiodiff_log"      # what RadioDiff's train_vae.py itself wrote, config included


@pytest.fixture(scope="module")
def paths(real, tmp_path_factory):
    return write_formats(real, tmp_path_factory.mktemp("formats"))


@pytest.fixture(scope="module")
def runs(paths):
    return {fmt: load_run(p) for fmt, p in paths.items()}


def diagnosis(run) -> tuple[str, list[tuple]]:
    """The verdict and every warning / critical finding: (id, metric, severity, span, steps)."""
    s = summary_json(run)
    return s["verdict"], sorted((f["id"], f["metric"], f["severity"],
                                 tuple(f["span"]) if f["span"] else None, tuple(f["steps"]))
                                for f in s["findings"] if f["severity"] != "info")


def test_every_format_reads_the_same_records(real, runs):
    ref = runs[REFERENCE].table.drop(columns="time")
    metrics = [c for c in real.columns if c not in ("step", "time")]
    assert list(ref.columns) == ["step", *metrics] and len(ref) == len(real)
    for fmt in ("csv", "console"):                    # the printed values, exactly
        pd.testing.assert_frame_equal(runs[fmt].table.drop(columns="time"), ref, obj=fmt)
    full_lr = lr_of_schedule(real["step"].to_numpy())
    for fmt in ("jsonl", "tensorboard"):              # full precision: the lr the optimizer had
        tab = runs[fmt].table
        assert tab["step"].tolist() == ref["step"].tolist()
        np.testing.assert_allclose(tab["lr"], full_lr, rtol=1e-6)
        rtol = 1e-6 if fmt == "tensorboard" else 0    # float32 simple_value
        for m in metrics:
            if m != "lr":
                np.testing.assert_allclose(tab[m], ref[m], rtol=rtol, atol=1e-9, err_msg=m)
    for fmt in ("csv", "radiodiff_log", "jsonl", "tensorboard"):   # only the console has no time
        np.testing.assert_allclose(runs[fmt].table["time"], real["time"], atol=1e-3, err_msg=fmt)
    assert {fmt: r.kind for fmt, r in runs.items()} == dict.fromkeys(FORMATS, "vae")
    assert {fmt: r.segments[0].decimals for fmt, r in runs.items()} == {
        "csv": 5, "radiodiff_log": 5, "console": 5, "jsonl": None, "tensorboard": None}


@pytest.fixture(scope="module")
def reference(runs):
    verdict, found = diagnosis(runs[REFERENCE])
    # the README's facts about this run: a discriminator that never trained is the warning;
    # d_weight at its clamp and a logvar left out of the optimizer are RadioDiff's design (info)
    assert verdict == "attention"
    assert {(f[0], f[1]) for f in found} == {("discriminator_untrained", "train/g_loss")}
    assert all(f[2] == "warning" for f in found)
    return verdict, found


@pytest.mark.parametrize("fmt", [
    "csv", "console", "jsonl", "tensorboard"])
def test_same_diagnosis_in_every_format(runs, reference, fmt):
    assert diagnosis(runs[fmt]) == reference


def test_a_radiodiff_results_folder_is_read_once(paths, runs, reference, tmp_path):
    """RadioDiff's results folder holds the text log and the TensorBoard events of one run."""
    folder = tmp_path / "results"
    folder.mkdir()
    for fmt in ("radiodiff_log", "tensorboard"):
        (folder / paths[fmt].name).write_bytes(paths[fmt].read_bytes())
    run = load_run(folder)
    assert [s.format for s in run.segments] == ["radiodiff_log"]
    assert diagnosis(run) == reference
