"""Test helper: one run written in every format radiovae reads, as each writer would write it.

``write_formats(frame, out_dir)`` -> {format: path}: ``csv`` (RadioDiff's parsed
training_data_parsed.csv: values as the text log printed them, no config), ``radiodiff_log``
(train_vae.py's file log with its cfg dict), ``console`` (``python train_vae.py > out.txt 2>&1``),
``jsonl`` and ``tensorboard`` (full-precision writers: the learning rate as the optimizer held it,
the other terms as known; no config). The frame is one row per logged step: ``step``, ``time``
(unix seconds) and metric columns named as RadioDiff logs them.

Text formats print ``{:.5f}``, so they hold what the text holds; a full-precision writer of the
same run holds the lr the schedule really had (RadioDiff's LambdaLR:
``lr * max((1 - step / total) ** 0.95, min_lr)``), which ``lr_of_schedule`` gives back.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from logfactory import RADIODIFF_CONFIG, write_console_capture, write_log

# the shared real run's config (../shared/data/README.md): gradient_accumulate_every 1
REAL_RUN_CONFIG = copy.deepcopy(RADIODIFF_CONFIG)
REAL_RUN_CONFIG["trainer"]["gradient_accumulate_every"] = 1

FORMATS = ("csv", "radiodiff_log", "console", "jsonl", "tensorboard")
# RadioDiff's own SummaryWriter tags (train_vae.py): bare names, the lr as Learning_Rate (the
# next step's, written after the scheduler stepped), no logvar or nll_loss
RADIODIFF_TB_TAGS = {"train/total_loss": "total_loss", "train/rec_loss": "rec_loss",
                     "train/kl_loss": "kl_loss", "train/d_weight": "d_weight",
                     "train/disc_factor": "disc_factor", "train/g_loss": "g_loss",
                     "lr": "Learning_Rate"}


def lr_of_schedule(step: np.ndarray, config: dict = REAL_RUN_CONFIG) -> np.ndarray:
    t = config["trainer"]
    frac = np.clip(1 - np.asarray(step, dtype=float) / t["train_num_steps"], 0, None)
    return t["lr"] * np.maximum(frac ** 0.95, t["min_lr"])


def write_csv_like_radiodiff(df: pd.DataFrame, path: Path, total: int) -> Path:
    """training_data_parsed.csv's columns: the terms, step, total_steps, timestamp, datetime."""
    out = df.drop(columns="time").copy()
    stamps = [(datetime(1970, 1, 1) + timedelta(seconds=float(t))).strftime("%Y-%m-%d %H:%M:%S")
              for t in df["time"]]
    out["total_steps"] = total
    out["timestamp"] = stamps
    out["datetime"] = stamps
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, float_format="%.5f")
    return path


def write_jsonl(df: pd.DataFrame, path: Path) -> Path:
    """One JSON object per logged step, as radiovae's trainer writes metrics.jsonl."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for rec in df.to_dict("records"):
            rec["step"] = int(rec["step"])
            f.write(json.dumps(rec, allow_nan=True) + "\n")
    return path


def write_tensorboard(df: pd.DataFrame, out_dir: Path) -> Path:
    """One event file: per logged step one event holding every term as a simple_value, at the
    row's wall time. (SummaryWriter.add_scalar writes one event per term; the reader takes both,
    and TensorBoard's record writer costs ~0.1 ms an event.)"""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    out_dir.mkdir(parents=True, exist_ok=True)
    w = EventFileWriter(str(out_dir))
    cols = [c for c in df.columns if c not in ("step", "time")]
    values = df[cols].to_numpy(dtype=float)
    for i, (step, t) in enumerate(zip(df["step"].to_numpy(), df["time"].to_numpy(), strict=True)):
        w.add_event(Event(wall_time=float(t), step=int(step), summary=Summary(
            value=[Summary.Value(tag=c, simple_value=float(values[i, j]))
                   for j, c in enumerate(cols)])))
    w.close()
    return next(out_dir.glob("events.out.tfevents.*"))


def write_formats(df: pd.DataFrame, out_dir: Path, config: dict = REAL_RUN_CONFIG,
                  formats: tuple[str, ...] = FORMATS) -> dict[str, Path]:
    """The run ``df`` (as its text log holds it) in every format of ``formats``."""
    out_dir = Path(out_dir)
    total = int(config["trainer"]["train_num_steps"])
    full = df.copy()
    if "lr" in full.columns:
        full["lr"] = lr_of_schedule(full["step"].to_numpy(), config)
    paths: dict[str, Path] = {}
    for fmt in formats:
        if fmt == "csv":
            paths[fmt] = write_csv_like_radiodiff(df, out_dir / "training_data_parsed.csv", total)
        elif fmt == "radiodiff_log":
            paths[fmt] = write_log(out_dir / "log" / "2025-08-15-20-41_.log", df, config,
                                   noise_every=0, total=total)
        elif fmt == "console":
            paths[fmt] = write_console_capture(out_dir / "out.txt", df, total=total, config=config,
                                               log_freq=int(config["trainer"]["log_freq"]))
        elif fmt == "jsonl":
            paths[fmt] = write_jsonl(full, out_dir / "metrics.jsonl")
        elif fmt == "tensorboard":
            paths[fmt] = write_tensorboard(full, out_dir / "tb")
        elif fmt == "tensorboard_radiodiff":
            tb = df[["step", "time", *RADIODIFF_TB_TAGS]].rename(columns=RADIODIFF_TB_TAGS)
            tb["Learning_Rate"] = lr_of_schedule(tb["step"].to_numpy() + 1, config)
            paths[fmt] = write_tensorboard(tb, out_dir / "tb_radiodiff")
        else:
            raise ValueError(fmt)
    return paths
