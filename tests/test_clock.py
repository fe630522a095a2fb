"""Time that runs backwards: the jump is noted, and wall time counts forward intervals only."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from summaries import summary_json

from radiovae.runlog import load_run
from radiovae.runlog.clock import forward_intervals, forward_time


def test_a_clock_set_back_25_h_is_noted_and_not_counted(tmp_path):
    t0 = 1.7e9
    times = [t0 + 2.0 * s if s < 60 else t0 + 2.0 * s - 25 * 3600 for s in range(120)]
    (tmp_path / "m.jsonl").write_text("".join(
        json.dumps({"step": s, "time": t, "train/total_loss": 1.0 / (s + 1)}) + "\n"
        for s, t in enumerate(times)))
    run = load_run(tmp_path / "m.jsonl")
    fwd = forward_time(run.table)
    assert fwd.elapsed_s == pytest.approx(2.0 * 118)         # 119 intervals, one went back
    assert fwd.span_s == pytest.approx(25 * 3600 - 2.0)       # what last - first would say
    assert (fwd.backward_jumps, fwd.first_back_step) == (1, 60)
    assert fwd.largest_back_s == pytest.approx(25 * 3600 - 2.0)
    assert run.notes[0]["what"] == ("the clock went back 1 time(s) (the largest by 24 h 59 min, "
                                    "first at step 60): wall time (3 min) and steps/s count "
                                    "forward intervals only")
    ds, dt, _ = forward_intervals(run.table["step"].to_numpy(),
                                  run.table["time"].to_numpy())
    assert ds.sum() / dt.sum() == pytest.approx(0.5)          # steps/s over forward intervals
    # the report's wall time and rate are the forward ones, and the note is said
    s = summary_json(run)
    assert s["time"]["elapsed_s"] == pytest.approx(2.0 * 118)
    assert s["time"]["steps_per_s"] == pytest.approx(0.5)
    assert s["read_notes"][0]["what"].startswith("the clock went back")


def test_a_forward_clock_says_nothing():
    table = pd.DataFrame({"step": np.arange(10), "time": 1.7e9 + np.arange(10.0)})
    fwd = forward_time(table)
    assert fwd.note() is None and fwd.elapsed_s == fwd.span_s == 9.0
