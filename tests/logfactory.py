"""Test helper: turn the real RadioDiff run (CSV) into the text logs RadioDiff's train_vae.py
writes, split at a resume with an overlap and cut last lines, and plant failures in it.

Shared by the runlog / analysis / report / watch tests. Lines are written with
``radiovae.runlog.radiodiff_log.format_radiodiff_lines`` (the one definition of the shape).
The real CSV has no discriminator terms; ``with_disc_terms`` adds seeded synthetic ones
(0 before the discriminator starts, as RadioDiff logs them) so the logs have both lines per step.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from radiovae.runlog.radiodiff_log import format_radiodiff_lines

GENERATOR = ["train/total_loss", "train/logvar", "train/kl_loss", "train/nll_loss",
             "train/rec_loss", "train/d_weight", "train/disc_factor", "train/g_loss", "lr"]
DISCRIMINATOR = ["train/disc_loss", "train/logits_real", "train/logits_fake", "lr"]

# the config of the real run (see ../shared/data/README.md), nested as RadioDiff's YAML
RADIODIFF_CONFIG = {
    "model": {"embed_dim": 3, "lossconfig": {"disc_start": 50001, "kl_weight": 1e-06,
                                             "disc_weight": 0.5, "disc_in_channels": 1},
              "ddconfig": {"double_z": True, "z_channels": 3, "resolution": [256, 256],
                           "in_channels": 1, "out_ch": 1, "ch": 128, "ch_mult": [1, 2, 4],
                           "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0},
              "ckpt_path": None},
    "data": {"name": "radio", "batch_size": 2},
    "trainer": {"gradient_accumulate_every": 2, "lr": 5e-06, "min_lr": 5e-07,
                "train_num_steps": 150000, "save_and_sample_every": 5000, "log_freq": 100,
                "results_folder": "./radiodiff_Vae", "amp": False, "fp16": False},
}

NOISE = [
    "  {pct:3d}%|###       | {step}/150000 [1:02:03<5:01:02,  5.45it/s]",
    "/usr/lib/python3/dist-packages/torch/nn/modules/conv.py:456: UserWarning: Plan failed "
    "with a cudnnException (Triggered internally at ../aten/src/ATen/native/cudnn/Conv_v8.cpp:919.)",
    "DEBUG: batch shape torch.Size([2, 1, 256, 256])",
]


def read_real_run(csv_path: Path) -> pd.DataFrame:
    """The real run as a frame: step, time (unix seconds), the generator terms."""
    df = pd.read_csv(csv_path)
    t = pd.to_datetime(df["timestamp"])
    df["time"] = (t - pd.Timestamp("1970-01-01")).dt.total_seconds()
    return df[["step", "time", *GENERATOR]].copy()


def with_disc_terms(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Add synthetic discriminator terms (hinge loss near 1 once the discriminator is on)."""
    rng = np.random.default_rng(seed)
    on = df["train/disc_factor"].to_numpy() > 0
    n = len(df)
    out = df.copy()
    out["train/disc_loss"] = np.where(on, 1.0 + 0.05 * rng.standard_normal(n), 0.0)
    out["train/logits_real"] = np.where(on, 0.1 * rng.standard_normal(n), 0.0)
    out["train/logits_fake"] = np.where(on, -0.1 + 0.1 * rng.standard_normal(n), 0.0)
    return out


def log_lines(df: pd.DataFrame, total: int = 150000, noise_every: int = 0) -> list[str]:
    """RadioDiff's two lines per row (plus a noise line every ``noise_every`` rows)."""
    gen_cols = [c for c in GENERATOR if c in df.columns]
    disc_cols = [c for c in DISCRIMINATOR if c in df.columns]
    lines: list[str] = []
    gen = df[gen_cols].to_numpy(dtype=float)
    disc = df[disc_cols].to_numpy(dtype=float) if len(disc_cols) > 1 else None
    for i, (step, t) in enumerate(zip(df["step"].to_numpy(), df["time"].to_numpy(), strict=True)):
        when = datetime(1970, 1, 1) + timedelta(seconds=float(t))
        g = dict(zip(gen_cols, gen[i], strict=True))
        d = dict(zip(disc_cols, disc[i], strict=True)) if disc is not None else None
        lines += format_radiodiff_lines(int(step), total, g, d, when)
        if noise_every and i % noise_every == noise_every // 2:
            lines.append(NOISE[(i // noise_every) % len(NOISE)].format(
                pct=int(100 * step / total), step=step))
    return lines


def write_log(path: Path, df: pd.DataFrame, config: dict | None = RADIODIFF_CONFIG,
              noise_every: int = 97, cut_last: bool = False, total: int = 150000) -> Path:
    """One RadioDiff log file: the printed cfg dict, the records, noise; optionally a last line
    cut mid-write (no newline), as a crash or a live writer leaves it."""
    lines = []
    if config is not None:
        stamp = datetime(1970, 1, 1) + timedelta(seconds=float(df["time"].iloc[0]) - 5)
        lines.append(f"{stamp:%Y-%m-%d %H:%M:%S},000 {config!r}")
    lines += log_lines(df, total, noise_every)
    text = "\n".join(lines) + "\n"
    if cut_last:
        nxt = log_lines(df.iloc[-1:].assign(step=df["step"].iloc[-1] + 100,
                                            time=df["time"].iloc[-1] + 18), total)[0]
        text += nxt[: len(nxt) // 2]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_radiodiff_logs(csv_path: Path | None, out_dir: Path, resume_step: int = 90000,
                         overlap_steps: int = 2000, gap_s: float = 900.0, cut_last: bool = True,
                         config: dict | None = RADIODIFF_CONFIG, frame: pd.DataFrame | None = None,
                         noise_every: int = 97) -> list[Path]:
    """The run as two RadioDiff logs: the first crashed at ``resume_step + overlap_steps``, the
    second resumed from the ``resume_step`` checkpoint ``gap_s`` seconds later.

    The first log's rows past the resume point belong to the lost timeline: their values are
    perturbed (+1000 on total_loss, x1.5 on rec/nll) so a test can tell which run won. The
    second log's times are shifted by the overlap's duration plus the gap; its values equal the
    source's. Both logs end in a cut line when ``cut_last``.
    """
    df = with_disc_terms(read_real_run(csv_path) if frame is None else frame)
    first = df[df["step"] < resume_step + overlap_steps].copy()
    lost = first["step"] >= resume_step
    first.loc[lost, "train/total_loss"] += 1000.0
    for col in ("train/rec_loss", "train/nll_loss"):
        first.loc[lost, col] *= 1.5
    second = df[df["step"] >= resume_step].copy()
    shift = float(first["time"].iloc[-1] - second["time"].iloc[0]) + gap_s
    second["time"] += shift
    out_dir = Path(out_dir)
    a = write_log(out_dir / "train_2025-08-15.log", first, config, noise_every, cut_last)
    b = write_log(out_dir / "train_2025-08-16.log", second, config, noise_every, cut_last)
    return [a, b]


def write_single_log(csv_path: Path | None, path: Path, frame: pd.DataFrame | None = None,
                     config: dict | None = RADIODIFF_CONFIG, cut_last: bool = False) -> Path:
    """The whole run as one RadioDiff log (no resume)."""
    df = with_disc_terms(read_real_run(csv_path) if frame is None else frame)
    return write_log(Path(path), df, config, cut_last=cut_last)


# -- planted failures (on a frame from read_real_run) -------------------------------------------

def plant_nan(df: pd.DataFrame, metric: str, step: int) -> pd.DataFrame:
    out = df.copy()
    out.loc[out["step"] == step, metric] = np.nan
    return out


def plant_spike(df: pd.DataFrame, metric: str, step: int, factor: float = 50.0) -> pd.DataFrame:
    out = df.copy()
    out.loc[out["step"] == step, metric] *= factor
    return out


def plant_divergence(df: pd.DataFrame, metric: str, from_step: int,
                     factor: float = 100.0) -> pd.DataFrame:
    """From ``from_step`` on, ``metric`` grows geometrically to ``factor`` x at the last row."""
    out = df.copy()
    rows = out["step"] >= from_step
    n = int(rows.sum())
    out.loc[rows, metric] *= np.geomspace(1.0, factor, n)
    return out


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """A frame from read_real_run back as a CSV with a step column (time as unix seconds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path
