"""A run folder stays a run folder: symbolic links out of it are noted, not followed (never a
walk of ``/``, never a loop), links inside it are read once, and a folder holding a log and
another logger's run is refused with both named - never one reported in place of the other."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from loggerfactory import write_wandb_run

from radiovae.errors import UserError
from radiovae.runlog import load_run
from radiovae.runlog.tree import scan


def frame(n: int = 50, scale: float = 1.0) -> pd.DataFrame:
    s = np.arange(n) * 10
    return pd.DataFrame({"step": s, "time": 1.7e9 + s.astype(float),
                         "train/total_loss": scale / (s + 10.0),
                         "train/rec_loss": scale / (s + 20.0), "lr": np.full(n, 1e-4)})


def csv_run(folder: Path, scale: float = 1.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    frame(scale=scale).to_csv(folder / "metrics.csv", index=False)
    return folder


def test_a_link_to_another_run_is_not_followed_and_is_said(tmp_path):
    write_wandb_run(tmp_path / "wb", frame(scale=7.0))
    run_dir = csv_run(tmp_path / "run")
    (run_dir / "ext").symlink_to(tmp_path / "wb")
    run = load_run(run_dir)
    assert [s.source for s in run.segments] == [str(run_dir / "metrics.csv")]
    assert run.table["train/total_loss"].iloc[0] == pytest.approx(0.1)   # its own log, not W&B's
    assert any("symbolic link(s) leading out of" in n["what"] and "ext" in n["what"]
               for n in run.notes)


def test_a_link_to_root_and_a_loop_are_not_walked(tmp_path):
    run_dir = csv_run(tmp_path / "run")
    (run_dir / "root").symlink_to("/")
    (run_dir / "loop").symlink_to(run_dir)
    (run_dir / "sub").mkdir()
    (run_dir / "sub" / "up").symlink_to("..")
    start = time.perf_counter()
    run = load_run(run_dir)
    assert time.perf_counter() - start < 30           # was a 93 s walk of the file system
    assert [s.source for s in run.segments] == [str(run_dir / "metrics.csv")]
    tree = scan(run_dir)
    assert tree.files == [run_dir / "metrics.csv"]    # read once, under its real name
    assert tree.outside == [run_dir / "root"]


def test_a_link_inside_the_folder_is_followed(tmp_path):
    run_dir = tmp_path / "run"
    csv_run(run_dir / "logs")
    (run_dir / "latest").symlink_to(run_dir / "logs")
    (run_dir / "elsewhere.csv").symlink_to(run_dir / "logs" / "metrics.csv")
    assert scan(run_dir).files == [run_dir / "logs" / "metrics.csv"]
    os.remove(run_dir / "logs" / "metrics.csv")
    frame().to_csv(tmp_path / "real.csv", index=False)
    (run_dir / "logs" / "metrics.csv").symlink_to(tmp_path / "real.csv")   # out: not read
    with pytest.raises(UserError, match="holds no training records .* not followed"):
        load_run(run_dir)


def test_a_log_beside_another_loggers_run_is_refused_naming_both(tmp_path):
    run_dir = csv_run(tmp_path / "run")
    write_wandb_run(run_dir / "sub" / "wandb", frame(scale=7.0))
    with pytest.raises(UserError) as e:
        load_run(run_dir)
    msg = str(e.value)
    assert "holds a W&B run (sub/wandb/run-20250815_204107-1r3np4b7)" in msg
    assert "other training records (metrics.csv)" in msg
    run = load_run(run_dir / "sub" / "wandb")          # each alone is read as what it is
    assert run.segments[0].format == "wandb_history"
    assert load_run(run_dir / "metrics.csv").segments[0].format == "csv"
