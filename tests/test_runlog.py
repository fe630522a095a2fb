"""Readers: RadioDiff text logs (fast path == plain parser), CSV, JSONL, TensorBoard, directories,
run dirs, resumes (the later segment wins), bad input."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import write_run_dir
from logfactory import (
    RADIODIFF_CONFIG,
    log_lines,
    with_disc_terms,
    write_csv,
)

from radiovae import load_run
from radiovae.errors import UserError
from radiovae.runlog import radiodiff_log
from radiovae.runlog.radiodiff_log import format_radiodiff_lines, parse_line, parse_radiodiff

TERMS = ["train/total_loss", "train/kl_loss", "train/nll_loss", "train/rec_loss",
         "train/d_weight", "train/disc_factor", "train/g_loss", "lr"]


def test_line_shape_is_radiodiffs():
    lines = format_radiodiff_lines(
        35000, 150000, {"train/total_loss": 1916.709594, "lr": 4e-6},
        {"train/disc_loss": 0.0, "lr": 4e-6}, datetime(2025, 8, 15, 20, 41, 7, 123456))
    assert lines == [
        "2025-08-15 20:41:07,123 [Train Step] 35000/150000: train/total_loss: 1916.70959, "
        "lr: 0.00000, ",
        "2025-08-15 20:41:07,123 [Train Step] 35000/150000: train/disc_loss: 0.00000, lr: 0.00000, ",
    ]


def test_real_csv(real_run_csv):
    run = load_run(real_run_csv)
    t = run.table
    assert len(t) == 1150 and t["step"].iloc[0] == 35000 and t["step"].iloc[-1] == 149900
    assert t["step"].is_monotonic_increasing and t["step"].is_unique
    assert list(t.columns[:2]) == ["step", "time"] and np.isfinite(t["time"]).all()
    assert set(TERMS + ["train/logvar"]) == set(run.metrics)   # bookkeeping columns are not metrics
    assert run.config["total_steps"] == 150000                  # from the total_steps column
    assert [s.format for s in run.segments] == ["csv"] and run.resumes == []
    last = t.iloc[-1]
    assert last["train/total_loss"] == pytest.approx(-433.2644)
    assert last["train/kl_loss"] == pytest.approx(161259.90625)
    assert last["train/rec_loss"] == pytest.approx(0.00888)


def test_split_logs_read_as_one_run_later_segment_wins(real_logs, real):
    run = load_run(real_logs)
    t = run.table
    assert t["step"].tolist() == real["step"].tolist()
    for name in TERMS:   # every value equals the CSV's: the lost timeline's rows are gone
        np.testing.assert_allclose(t[name], real[name], rtol=0, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(t.loc[t["step"] < 90000, "time"], real.loc[real["step"] < 90000, "time"])
    assert [s.first_step for s in run.segments] == [35000, 90000]
    assert [s.last_step for s in run.segments] == [91900, 149900]
    (resume,) = run.resumes
    assert resume["step"] == 90000 and resume["previous_last_step"] == 91900
    assert resume["overlap_steps"] == 20 and resume["gap_s"] == pytest.approx(900.0)
    assert run.config["disc_start"] == 50001 and run.config["disc_weight"] == 0.5
    assert run.config["kl_weight"] == 1e-6 and run.config["lr"] == 5e-6
    assert run.config["total_steps"] == 150000 and run.config["batch_size"] == 2
    assert run.config["raw"] == RADIODIFF_CONFIG
    # noise lines (tqdm, warnings, debug) and the two cut last lines are skipped and counted
    noise = sum(1 for p in real_logs for ln in p.read_text().splitlines()
                if "[Train Step]" not in ln and "{'model'" not in ln)
    assert noise > 2 and run.skipped_lines == noise + 2
    assert {"train/disc_loss", "train/logits_real", "train/logits_fake"} <= set(run.metrics)


def test_segments_ordered_by_time_not_by_argument_order(real_logs):
    a, b = load_run(real_logs), load_run(real_logs[::-1])
    pd.testing.assert_frame_equal(a.table, b.table)
    assert [s.source for s in b.segments] == [str(p) for p in real_logs]


def test_formats_detected_by_content(tmp_path, real, real_logs):
    csv_as_txt = write_csv(real, tmp_path / "metrics.txt")
    log_as_csv = tmp_path / "run.csv"
    log_as_csv.write_bytes(real_logs[1].read_bytes())
    assert load_run(csv_as_txt).segments[0].format == "csv"
    assert load_run(log_as_csv).segments[0].format == "radiodiff_log"


def test_jsonl_keeps_non_finite_and_skips_cut_line(tmp_path):
    rows = [{"step": 10 * i, "time": 1000.0 + i, "train/rec_loss": 0.1 / (i + 1)} for i in range(5)]
    rows[2]["train/rec_loss"] = math.nan
    rows[3]["train/rec_loss"] = math.inf
    text = "".join(json.dumps(r) + "\n" for r in rows) + '{"step": 50, "train/rec'
    path = tmp_path / "metrics.jsonl"
    path.write_text(text)
    run = load_run(path)
    assert run.table["step"].tolist() == [0, 10, 20, 30, 40]
    rec = run.table["train/rec_loss"].to_numpy()
    assert np.isnan(rec[2]) and np.isposinf(rec[3]) and run.skipped_lines == 1


def _event_file(path: Path, scalars: dict[str, list[tuple[int, float]]], t0: float) -> Path:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    path.mkdir(parents=True, exist_ok=True)
    w = EventFileWriter(str(path))
    for tag, points in scalars.items():
        for step, value in points:
            summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag,
                                                                           simple_value=value)])
            w.add_event(event_pb2.Event(wall_time=t0 + step, step=step, summary=summary))
    w.close()
    return path


def test_tensorboard_files_and_directory(tmp_path):
    d = tmp_path / "tb"
    _event_file(d, {"rec_loss": [(s, 1.0 / (s + 1)) for s in range(0, 50, 10)],
                    "Learning_Rate": [(s, 5e-6) for s in range(0, 50, 10)]}, 1e9)
    run = load_run(d)
    assert run.table["step"].tolist() == [0, 10, 20, 30, 40]
    assert run.segments[0].format == "tensorboard"
    np.testing.assert_allclose(run.table["rec_loss"], [1.0 / (s + 1) for s in range(0, 50, 10)],
                               rtol=1e-6)
    assert run.table["time"].iloc[0] == pytest.approx(1e9)


def test_directory_reads_every_record_file(tmp_path, real_logs):
    d = tmp_path / "results"
    d.mkdir()
    for p in real_logs:
        (d / p.name).write_bytes(p.read_bytes())
    (d / "notes.md").write_text("# my notes\nnothing to see\n")
    (d / "sample-1.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    _event_file(d, {"total_loss": [(s, 1.0) for s in range(35000, 36000)]}, 1e9)  # same run, TB
    run = load_run(d)
    pd.testing.assert_frame_equal(run.table, load_run(real_logs).table)


def test_radiovae_run_dir_reads_jsonl_config_and_evaluation(tmp_path):
    rows = [{"step": s, "time": 1e9 + s, "train/rec_loss": 0.1, "train/disc_factor": 0.0}
            for s in (0, 100, 200)]
    d = write_run_dir(tmp_path / "run", rows,
                      "model:\n  lossconfig:\n    disc_start: 150\n    kl_weight: 1.0e-6\n"
                      "trainer:\n  lr: 5.0e-6\n  train_num_steps: 300\n",
                      {"nmse": 0.01, "ssim": 0.9})
    (d / "train.log").write_text("this duplicate is not read\n")
    run = load_run(d)
    assert run.table["step"].tolist() == [0, 100, 200]
    assert run.config["disc_start"] == 150 and run.config["total_steps"] == 300
    assert run.config["lr"] == 5e-6 and run.evaluation == {"nmse": 0.01, "ssim": 0.9}


def test_log_edge_cases_nan_inf_exponent_crlf_tqdm_resume(tmp_path):
    t = datetime(2025, 1, 1, 0, 0, 0)
    lines = ["2025-01-01 00:00:00,000 {'trainer': {'train_num_steps': 1000, 'lr': 5e-06}}"]
    for step in range(0, 600, 100):
        gen = {"train/total_loss": 10.0 - step / 100, "lr": 5e-6}
        if step == 200:
            gen["train/total_loss"] = math.nan
        if step == 300:
            gen["train/total_loss"] = math.inf
        lines += [ln.replace("lr: 0.00001", "lr: 5e-06") for ln in
                  format_radiodiff_lines(step, 1000, gen, {"train/disc_loss": 1.0, "lr": 5e-6}, t)]
    lines.insert(5, " 20%|##        | 200/1000 [00:10<00:40]\r 30%|###       | 300/1000")
    lines.append(format_radiodiff_lines(300, 1000, {"train/total_loss": 7.5, "lr": 4e-6}, None, t)[0]
                 .replace("lr: 0.00000", "lr: 4e-06"))
    text = "\r\n".join(lines) + "\r\n" + lines[-1][:40]
    path = tmp_path / "train.log"
    path.write_bytes(text.encode())
    run = load_run(path)
    tab = run.table.set_index("step")
    assert tab.index.tolist() == [0, 100, 200, 300]          # 400 and 500 lost to the resume at 300
    assert np.isnan(tab.loc[200, "train/total_loss"])
    assert tab.loc[300, "train/total_loss"] == 7.5 and tab.loc[300, "lr"] == 4e-6
    assert tab.loc[100, "lr"] == 5e-6
    assert run.resumes and run.resumes[0]["step"] == 300 and run.resumes[0]["previous_last_step"] == 500
    assert run.config["total_steps"] == 1000 and run.config["lr"] == 5e-6
    assert run.skipped_lines == 2       # the tqdm redraws (one line, as a terminal shows it), the cut line


def _reference(data: bytes) -> pd.DataFrame:
    """The plain line-by-line reading, for comparison with the fast path."""
    rows = {}
    for line in data.replace(b"\r", b"\n").split(b"\n")[:-1]:
        parsed = parse_line(line) if b"[Train Step]" in line else None
        if parsed:
            when, step, _, terms = parsed
            rows.setdefault(step, {"step": step}).update(terms, time=when)
    return pd.DataFrame(sorted(rows.values(), key=lambda r: r["step"]))


@pytest.mark.parametrize("row", [10, 501])  # a NaN inside / outside the lines the fast path samples
def test_fast_path_equals_plain_parser(real, monkeypatch, row):
    df = with_disc_terms(real)
    df.loc[df.index[row], "train/rec_loss"] = np.nan
    df.loc[df.index[row + 140], "train/kl_loss"] = np.inf
    df.loc[df.index[row + 300], "lr"] = 3e-7                # printed as 0.00000 anyway
    lines = log_lines(df, noise_every=7)
    lines[2 * row + 601] = lines[2 * row + 601].replace("lr: 0.00000", "lr: 5e-06")
    lines[40] = lines[40][:60]                              # a line cut by a crash mid-file
    data = ("\n".join(lines) + "\n").encode()
    fast = parse_radiodiff(data).table
    ref = _reference(data)
    ref = ref[fast.columns]
    pd.testing.assert_frame_equal(fast.reset_index(drop=True), ref.reset_index(drop=True),
                                  check_dtype=False)
    calls = []
    monkeypatch.setattr(radiodiff_log, "parse_line",
                        lambda line: calls.append(line) or parse_line(line))
    parse_radiodiff(data)
    assert len(calls) < 0.1 * len(lines)                    # most lines never see the slow path


@pytest.mark.parametrize("content, words", [
    (None, "no such file"),
    (b"", "empty"),
    (b"\n  \n", "empty"),
    (bytes(range(256)) * 40, "binary"),
    (b"epoch 1 loss 0.5\nepoch 2 loss 0.4\n", "no training records"),
    (b"2025-01-01 00:00:00,000 [Train Step] garbage without numbers\n", "no training records"),
    (b"a,b\n1,2\n", "no training records"),
])
def test_bad_input_is_one_clear_user_error(tmp_path, content, words):
    path = tmp_path / "train.log"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError) as e:
        load_run(path)
    message = str(e.value)
    assert words in message and str(path) in message and "\n" not in message


def test_directory_without_records_is_a_user_error(tmp_path):
    (tmp_path / "readme.md").write_text("hello\n")
    with pytest.raises(UserError, match="no training records"):
        load_run(tmp_path)


def test_without_timestamps_segments_keep_the_given_order(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps({"step": s, "loss": 1.0}) + "\n" for s in (0, 10, 20, 30)))
    b.write_text("".join(json.dumps({"step": s, "loss": 2.0}) + "\n" for s in (20, 30, 40)))
    run = load_run([a, b])
    assert run.table["loss"].tolist() == [1.0, 1.0, 2.0, 2.0, 2.0]      # b resumed at 20 and won
    assert run.resumes[0]["step"] == 20 and run.resumes[0]["overlap_steps"] == 2
    assert load_run([b, a]).table["loss"].tolist() == [1.0] * 4   # a restarted from 0: b is lost
