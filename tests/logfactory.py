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
LDM_TERMS = ["loss_simple", "loss_vlb", "total_loss", "lr"]       # train_cond_ldm.py's line

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


def with_disc_terms(df: pd.DataFrame, seed: int = 0, learning: bool = False) -> pd.DataFrame:
    """Add synthetic discriminator terms: a hinge loss near 1 (at chance) once the discriminator
    is on, or with ``learning`` one whose logits separate (gap 0 -> 0.8, loss 1 -> ~0.6)."""
    rng = np.random.default_rng(seed)
    on = df["train/disc_factor"].to_numpy() > 0
    n = len(df)
    out = df.copy()
    if learning:
        gap = np.where(on, 0.8 * np.clip(np.cumsum(on) / max(on.sum(), 1) * 2, 0, 1), 0.0)
        loss, real, fake = 1.0 - gap / 2, gap / 2, -gap / 2
    else:
        loss, real, fake = 1.0, 0.0, -0.1
    out["train/disc_loss"] = np.where(on, loss + 0.05 * rng.standard_normal(n), 0.0)
    out["train/logits_real"] = np.where(on, real + 0.1 * rng.standard_normal(n), 0.0)
    out["train/logits_fake"] = np.where(on, fake + 0.1 * rng.standard_normal(n), 0.0)
    return out


def log_lines(df: pd.DataFrame, total: int = 150000, noise_every: int = 0) -> list[str]:
    """RadioDiff's two lines per row (plus a noise line every ``noise_every`` rows)."""
    stage2 = "loss_simple" in df.columns
    gen_cols = [c for c in (LDM_TERMS if stage2 else GENERATOR) if c in df.columns]
    disc_cols = [] if stage2 else [c for c in DISCRIMINATOR if c in df.columns]
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


def _config_line(df: pd.DataFrame, text: str) -> str:
    """The logged config: one record 5 s before the first training record."""
    stamp = datetime(1970, 1, 1) + timedelta(seconds=float(df["time"].iloc[0]) - 5)
    return f"{stamp:%Y-%m-%d %H:%M:%S},000 {text}"


def write_log(path: Path, df: pd.DataFrame, config: dict | None = RADIODIFF_CONFIG,
              noise_every: int = 97, cut_last: bool = False, total: int = 150000) -> Path:
    """One RadioDiff log file: the printed cfg dict, the records, noise; optionally a last line
    cut mid-write (no newline), as a crash or a live writer leaves it."""
    lines = [] if config is None else [_config_line(df, repr(config))]
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


# -- console captures: `python train_vae.py > out.txt 2>&1` ----------------------------------------
# RadioDiff's create_logger adds a console StreamHandler (stderr) without a format: every record is
# written again as the bare message. tqdm (stderr) redraws its bar with "\r" + text, the bar's
# description being the last record (pbar.desc = ...); the next record is written right after the
# last bar, with no newline in between. print() goes to stdout, block-buffered (8 KiB) when
# redirected to a file, so its text lands in chunks cut anywhere, between stderr's writes.

_UTF_BLOCKS = " " + "".join(map(chr, range(0x258F, 0x2587, -1)))   # tqdm's Bar.UTF


def _interval(t: float) -> str:
    """tqdm.format_interval."""
    mins, s = divmod(int(t), 60)
    h, m = divmod(mins, 60)
    return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def tqdm_bar(n: int, total: int, elapsed: float, initial: int = 0, desc: str = "") -> str:
    """tqdm.format_meter's text for a file that is not a terminal (no ncols: a 10-cell bar)."""
    rate = (n - initial) / elapsed if elapsed else None
    inv = 1 / rate if rate else None
    rate_fmt = (f"{inv:5.2f}s/it" if inv and inv > 1 else
                (f"{rate:5.2f}" if rate else "?") + "it/s")
    remaining = _interval((total - n) / rate) if rate else "?"
    frac = n / total
    full, part = divmod(int(frac * 10 * 8), 8)
    bar = _UTF_BLOCKS[-1] * full
    if full < 10:
        bar += _UTF_BLOCKS[part] + " " * (10 - full - 1)
    left = (desc if desc[-2:] == ": " else desc + ": ") if desc else ""
    return (f"{left}{frac * 100:3.0f}%|{bar}| {n}/{total} [{_interval(elapsed)}<{remaining}, "
            f"{rate_fmt}]")


class Console:
    """One process's stdout + stderr redirected into one file, written the way they interleave."""

    def __init__(self, buffer: int = 8192) -> None:
        self.buffer = buffer
        self.out: list[str] = []
        self._stdout = ""
        self._bar_len = 0

    def err(self, text: str) -> None:
        self.out.append(text)

    def log(self, message: str) -> None:          # logging.StreamHandler: message + "\n"
        self.err(message + "\n")

    def bar(self, text: str) -> None:             # tqdm's status printer
        self.err("\r" + text + " " * max(self._bar_len - len(text), 0))
        self._bar_len = len(text)

    def print(self, text: str) -> None:
        self._stdout += text + "\n"
        while len(self._stdout) >= self.buffer:
            self.out.append(self._stdout[:self.buffer])
            self._stdout = self._stdout[self.buffer:]

    def text(self, crashed: bool = False) -> str:
        """The file; a crash (SIGKILL) loses what stdout still buffered."""
        return "".join(self.out) + ("" if crashed else self._stdout)


STARTUP_PRINTS = [
    "making attention of type 'vanilla' with 512 in_channels",
    "Working with z of shape (1, 3, 64, 64) = 12288 dimensions.",
    "making attention of type 'vanilla' with 512 in_channels",
    "len self.maps_inds :  601",
]


def _message(line: str) -> str:
    """A file-log line without its asctime: the bare message the console handler writes."""
    return line[24:]


def console_capture(df: pd.DataFrame, total: int = 150000, config: dict | None = RADIODIFF_CONFIG,
                    log_freq: int = 100, bars_per_record: int = 3, debug_every: int = 7,
                    crashed: bool = False, ldm_steps: pd.DataFrame | None = None,
                    stdout_buffer: int = 8192) -> str:
    """What ``python train_vae.py > out.txt 2>&1`` (or train_cond_ldm.py, with ``ldm_steps``)
    leaves in out.txt for the records of ``df`` (rows every ``log_freq`` steps, as read_real_run
    or ldm_frame give them); the same records as :func:`write_log`'s file log.

    ``bars_per_record`` tqdm redraws between two records (RadioDiff at ~5 it/s redraws every step);
    a ``DEBUG`` print every ``debug_every`` records. Stage 2 (``ldm_steps``: one row per step)
    sets the bar's description every step, so a bar shows the last step's record, logged or not.
    """
    con = Console(stdout_buffer)
    for text in STARTUP_PRINTS:
        con.print(text)
    if config is not None:
        con.log(str(config) if ldm_steps is None else cfgnode_str(config))
    steps = df["step"].to_numpy()
    t = df["time"].to_numpy(dtype=float)
    initial = int(steps[0])
    t0 = t[0] - 1.0
    con.bar(tqdm_bar(initial, total, 0.0, initial))
    desc = ""
    lines = log_lines(df, total)
    per_row = len(lines) // len(df)
    for i, step in enumerate(steps):
        for line in lines[i * per_row:(i + 1) * per_row]:
            con.log(_message(line))
            desc = _message(line)
        nxt = int(steps[i + 1]) if i + 1 < len(steps) else min(int(step) + log_freq, total)
        if ldm_steps is not None:                               # the steps there are
            nxt = min(nxt, int(ldm_steps["step"].iloc[-1]) + 1)
        t_next = t[i + 1] if i + 1 < len(steps) else t[i] + (t[i] - t[max(i - 1, 0)])
        for n in np.unique(np.linspace(step + 1, nxt, max(bars_per_record, 1)).round()).astype(int):
            if ldm_steps is not None:
                desc = _ldm_desc(ldm_steps, n - 1, total)
            when = t[i] + (t_next - t[i]) * (n - step) / max(nxt - step, 1)
            con.bar(tqdm_bar(int(n), total, when - t0, initial, desc))
        if debug_every and i % debug_every == debug_every // 2:
            con.print(f"DEBUG: step {step} batch torch.Size([2, 1, 256, 256]) "
                      f"range [-1.0000, 1.0000]")
    if not crashed:
        con.err("\n")                                            # tqdm.close(): final bar + "\n"
        con.print("training complete")
    return con.text(crashed)


def write_console_capture(path: Path, df: pd.DataFrame, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(console_capture(df, **kw).encode("utf-8"))
    return path


# -- stage 2: RadioDiff's train_cond_ldm.py ---------------------------------------------------------
# One line per logged step: "[Train Step] {step}/{total}: loss_simple: ..., loss_vlb: ...,
# total_loss: ..., lr: ..., " (dict2str of total_loss_dict, {:.5f}). The const-SDE model returns
# loss_vlb = 0, and total_loss_dict['total_loss'] adds the *running* total at each of the
# gradient_accumulate_every micro-batches (sum over i of the first i micro-losses / ga).
# The config is an fvcore CfgNode, logged as its YAML-like str().

LDM_CONFIG = {
    "model": {"model_type": "const_sde", "model_name": "cond_unet", "image_size": [320, 320],
              "timesteps": 1000, "loss_type": "l2", "objective": "pred_KC", "scale_factor": 0.3,
              "scale_by_std": True, "eps": 0.0001, "ckpt_path": None,
              "first_stage": {"embed_dim": 3,
                              "lossconfig": {"disc_start": 50001, "kl_weight": 1e-06,
                                             "disc_weight": 0.5, "disc_in_channels": 1},
                              "ddconfig": {"double_z": True, "z_channels": 3, "ch": 128,
                                           "ch_mult": [1, 2, 4], "resolution": [320, 320]},
                              "ckpt_path": "/home/user/DiffRadio/model/model-29.pt"},
              "unet": {"dim": 128, "cond_net": "swin", "channels": 3, "dim_mults": [1, 2, 4, 4],
                       "window_sizes1": [[8, 8], [4, 4], [2, 2], [1, 1]]}},
    "data": {"name": "radio", "batch_size": 66},
    "trainer": {"gradient_accumulate_every": 8, "lr": 5e-05, "min_lr": 5e-06,
                "train_num_steps": 50000, "save_and_sample_every": 200, "enable_resume": False,
                "log_freq": 100, "results_folder": "/data/DiffRadio/results/LDM", "amp": False,
                "fp16": False, "ema_update_after_step": 10000, "ema_update_every": 10},
    "finetune": {"ckpt_path": None},
}


def cfgnode_str(d: dict, indent: int = 2) -> str:
    """yacs CfgNode.__str__ (fvcore's CfgNode keeps it): sorted keys, nested nodes indented."""
    parts = []
    for k, v in sorted(d.items()):
        text = f"{k}:\n{cfgnode_str(v)}" if isinstance(v, dict) else f"{k}: {v}"
        first, *rest = text.split("\n")
        parts.append("\n".join([first] + [" " * indent + line for line in rest]))
    return "\n".join(parts)


def ldm_steps_frame(total: int = 50000, steps: int | None = None, ga: int = 8, lr: float = 5e-5,
                    min_lr: float = 5e-6, seed: int = 0, t0: float = 1.7552e9,
                    s_per_step: float = 1.3) -> pd.DataFrame:
    """Every step of a stage-2 run: what total_loss_dict holds when it is described."""
    rng = np.random.default_rng(seed)
    n = total if steps is None else steps
    s = np.arange(n)
    level = 0.012 + 0.05 * np.exp(-s / 3000.0)                  # x0-prediction loss settling
    micro = level[:, None] * np.exp(0.25 * rng.standard_normal((n, ga)))
    cum = np.cumsum(micro / ga, axis=1)
    return pd.DataFrame({"step": s, "time": t0 + s_per_step * s,
                         "loss_simple": cum[:, -1], "loss_vlb": 0.0, "total_loss": cum.sum(axis=1),
                         "lr": lr * np.maximum((1 - s / total) ** 0.96, min_lr)})


def ldm_frame(every: pd.DataFrame, log_freq: int = 100) -> pd.DataFrame:
    """The logged rows (step % log_freq == 0) of ldm_steps_frame."""
    return every[every["step"] % log_freq == 0].reset_index(drop=True)


def _ldm_desc(every: pd.DataFrame, step: int, total: int) -> str:
    row = every.iloc[int(step) - int(every["step"].iloc[0])]
    body = "".join(f"{k}: {float(row[k]):.5f}, " for k in ("loss_simple", "loss_vlb", "total_loss",
                                                            "lr"))
    return f"[Train Step] {step}/{total}: {body}"


def write_ldm_log(path: Path, df: pd.DataFrame, total: int = 50000,
                  config: dict | None = LDM_CONFIG) -> Path:
    """train_cond_ldm.py's file log: the CfgNode dump (one record, many lines), then one line
    per logged step."""
    lines = [] if config is None else [_config_line(df, cfgnode_str(config))]
    lines += log_lines(df, total)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
