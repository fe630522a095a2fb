"""Test helper: a run's records written exactly as PyTorch Lightning's CSVLogger, Weights & Biases
and MLflow's file store write them, for the reader tests (and anyone fuzzing the readers).

Each writer takes a frame of one row per logged training step (``step``, ``time`` unix seconds,
latent-diffusion's loss terms: ``train/total_loss`` ... ``train/g_loss`` from the generator's
call, ``train/disc_loss`` / ``train/logits_*`` from the discriminator's, ``lr``), such as
``logfactory.with_disc_terms(logfactory.read_real_run(csv))``, and lays it out the way
latent-diffusion's ``AutoencoderKL`` logs through that logger:

- ``self.log("aeloss", on_step=True, on_epoch=True)`` -> ``aeloss_step`` each logged step and
  ``aeloss_epoch`` (the epoch's mean) at the epoch's end; the same for ``discloss``;
- ``self.log_dict(log_dict_ae / log_dict_disc, on_step=True, on_epoch=False)`` -> the bare names,
  the generator's and the discriminator's terms in separate calls;
- LearningRateMonitor -> ``lr-Adam`` (generator) and ``lr-Adam-1`` (discriminator), its own call;
- validation at each epoch's end -> ``val/rec_loss``, ``val/aeloss`` and the ``val/`` terms,
  whose values are :func:`val_values` (deterministic, so tests can check them).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

GEN = ["train/total_loss", "train/logvar", "train/kl_loss", "train/nll_loss", "train/rec_loss",
       "train/d_weight", "train/disc_factor", "train/g_loss"]
DISC = ["train/disc_loss", "train/logits_real", "train/logits_fake"]
VAL = ["val/rec_loss", "val/aeloss", "val/kl_loss", "val/nll_loss", "val/disc_loss"]

# latent-diffusion's project config (configs/autoencoder/*.yaml as main.py saves it)
LDM_PROJECT = {
    "model": {"base_learning_rate": 4.5e-06, "target": "ldm.models.autoencoder.AutoencoderKL",
              "params": {"monitor": "val/rec_loss", "embed_dim": 3,
                         "lossconfig": {"target": "ldm.modules.losses.LPIPSWithDiscriminator",
                                        "params": {"disc_start": 50001, "kl_weight": 1.0e-06,
                                                   "disc_weight": 0.5}}}},
    "data": {"params": {"batch_size": 2}},
    "lightning": {"trainer": {"max_steps": 150000, "accumulate_grad_batches": 1}},
}


def val_values(epoch: int) -> dict[str, float]:
    """What the validation of ``epoch`` returns: slowly falling, distinct per key."""
    base = 0.05 / (1 + epoch)
    return {k: base * (i + 1) for i, k in enumerate(VAL)}


def epoch_ends(steps: np.ndarray, epoch_steps: int) -> np.ndarray:
    """The logged steps that end an epoch: the next logged step lies in a later epoch."""
    steps = np.asarray(steps, dtype="int64")
    return steps[:-1][steps[1:] // epoch_steps > steps[:-1] // epoch_steps]


def lightning_calls(df: pd.DataFrame, epoch_steps: int) -> list[dict]:
    """The ``log_metrics`` calls of a Lightning training, each a dict with its ``step``.

    Epoch ``e`` holds steps ``e * epoch_steps ...``; the epoch ending at a logged step ``s``
    logs its validation (:func:`val_values`) at ``s`` and its epoch means at ``s + 1``
    (Lightning's ``_batches_that_stepped`` has moved on by then).
    """
    ends = set(epoch_ends(df["step"].to_numpy(), epoch_steps).tolist())
    calls: list[dict] = []
    ae: list[float] = []
    disc: list[float] = []
    for row in df.to_dict("records"):
        step = int(row["step"])
        epoch = step // epoch_steps
        calls.append({"lr-Adam": row["lr"], "lr-Adam-1": row["lr"], "step": step})
        gen = {k: row[k] for k in GEN if k in row}
        calls.append({**gen, "aeloss_step": row["train/total_loss"], "epoch": epoch,
                      "step": step})
        ae.append(row["train/total_loss"])
        if all(k in row for k in DISC):
            d = {k: row[k] for k in DISC}
            calls.append({**d, "discloss_step": row["train/disc_loss"], "epoch": epoch,
                          "step": step})
            disc.append(row["train/disc_loss"])
        if step in ends:
            calls.append({**val_values(epoch), "epoch": epoch, "step": step})
            means = {"aeloss_epoch": float(np.mean(ae))}
            if disc:
                means["discloss_epoch"] = float(np.mean(disc))
            calls.append({**means, "epoch": epoch, "step": step + 1})
            ae, disc = [], []
    return calls


def lightning_csv_text(calls: list[dict]) -> str:
    """metrics.csv as Lightning's _ExperimentWriter leaves it: header = the sorted union of the
    keys, a row per call, empty cells for keys the call did not log, floats as Python writes them."""
    keys = sorted(set().union(*calls))
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(calls)
    return out.getvalue()


def write_lightning_run(root: Path, df: pd.DataFrame, version: int = 0, epoch_steps: int = 5000,
                        hparams: dict | None = None, project: dict | None = LDM_PROJECT) -> Path:
    """``root/<run>/csv/version_N/{metrics.csv, hparams.yaml}`` and, as main.py does,
    ``root/<run>/configs/<time>-project.yaml``; returns the version dir."""
    vdir = Path(root) / "csv" / f"version_{version}"
    vdir.mkdir(parents=True, exist_ok=True)
    (vdir / "metrics.csv").write_text(lightning_csv_text(lightning_calls(df, epoch_steps)),
                                      encoding="utf-8", newline="")
    (vdir / "hparams.yaml").write_text(yaml.dump(hparams or {}), encoding="utf-8")
    if project is not None:
        cfg = Path(root) / "configs"
        cfg.mkdir(exist_ok=True)
        (cfg / f"2025-08-15T20-40-{version:02d}-project.yaml").write_text(
            yaml.dump(project), encoding="utf-8")
    return vdir


# -- Weights & Biases ---------------------------------------------------------------------------
def wandb_rows(df: pd.DataFrame, epoch_steps: int = 5000) -> list[dict]:
    """The history rows WandbLogger makes of the same calls: each call one row, ``_step``
    counting the calls, ``trainer/global_step`` the trainer's step, ``_timestamp`` / ``_runtime``."""
    times = dict(zip(df["step"].astype(int), df["time"].astype(float), strict=True))
    start = float(df["time"].iloc[0]) - 30.0
    rows = []
    for i, call in enumerate(lightning_calls(df, epoch_steps)):
        step = call.pop("step")
        t = times.get(step, times.get(step - 1, start)) + 0.001 * (i % 3)
        rows.append({**call, "trainer/global_step": step, "_step": i, "_runtime": t - start,
                     "_timestamp": t})
    return rows


def wandb_config_yaml(config: dict) -> str:
    """config.yaml as W&B writes it: ``wandb_version: 1``, then {desc, value} per key."""
    body = {k: {"desc": None, "value": v} for k, v in config.items()}
    body["_wandb"] = {"desc": None, "value": {"cli_version": "0.16.6", "python_version": "3.11.9",
                                              "framework": "lightning"}}
    return "wandb_version: 1\n\n" + yaml.dump(body, Dumper=yaml.SafeDumper,
                                               default_flow_style=False, sort_keys=False)


def write_wandb_run(wandb_dir: Path, df: pd.DataFrame, run_id: str = "1r3np4b7",
                    config: dict | None = LDM_PROJECT, epoch_steps: int = 5000) -> Path:
    """``wandb_dir/run-<time>-<id>/files/{wandb-history.jsonl, wandb-summary.json, config.yaml}``
    plus the binary ``run-<id>.wandb`` beside ``files/``; returns the run folder."""
    run = Path(wandb_dir) / f"run-20250815_204107-{run_id}"
    files = run / "files"
    files.mkdir(parents=True, exist_ok=True)
    rows = wandb_rows(df, epoch_steps)
    rows.insert(3, {"samples": {"_type": "image-file", "path": "media/images/s_0.png",
                                "width": 256, "height": 256}, "_step": -1,
                    "_runtime": 1.0, "_timestamp": rows[0]["_timestamp"]})
    for i, r in enumerate(rows):
        r["_step"] = i
    with open(files / "wandb-history.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    summary = {}
    for r in rows:
        summary.update({k: v for k, v in r.items() if not isinstance(v, dict)})
    summary["_wandb"] = {"runtime": int(rows[-1]["_runtime"])}
    (files / "wandb-summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (files / "config.yaml").write_text(wandb_config_yaml(config or {}), encoding="utf-8")
    (files / "wandb-metadata.json").write_text(json.dumps({"os": "Linux", "python": "3.11.9"}))
    (run / f"run-{run_id}.wandb").write_bytes(b":W&B\x00\x01\x00\x00" + bytes(range(256)))
    return run


def write_wandb_history_csv(path: Path, df: pd.DataFrame, epoch_steps: int = 5000) -> Path:
    """``api.run(...).history(samples=...).to_csv(path)``: pandas' index column first."""
    frame = pd.DataFrame.from_records(wandb_rows(df, epoch_steps))
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path)
    return path


def write_wandb_chart_csv(path: Path, runs: dict[str, pd.DataFrame], metric: str) -> Path:
    """A chart's "Export CSV": ``Step``, then per run ``<run> - <metric>`` with ``__MIN`` /
    ``__MAX`` companions."""
    frame = None
    for name, df in runs.items():
        part = pd.DataFrame({"Step": df["step"].astype(int)})
        part[f"{name} - {metric}"] = df[metric].to_numpy()
        part[f"{name} - {metric}__MIN"] = df[metric].to_numpy()
        part[f"{name} - {metric}__MAX"] = df[metric].to_numpy()
        frame = part if frame is None else frame.merge(part, on="Step", how="outer")
    assert frame is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


# -- MLflow -------------------------------------------------------------------------------------
def write_mlflow_run(mlruns: Path, df: pd.DataFrame, experiment: str = "1",
                     run_id: str = "6f0c2a5b1d9e4f7a8b3c2d1e0f9a8b7c",
                     params: dict | None = None, epoch_steps: int = 5000) -> Path:
    """``mlruns/<exp>/<run>/{meta.yaml, metrics/<key>, params/<key>, tags/mlflow.runName}`` as
    MLflow's FileStore writes what MLFlowLogger logs: one ``<ms> <value> <step>`` line per value,
    a key's ``/`` a sub-folder, params flattened with ``/``."""
    run = Path(mlruns) / experiment / run_id
    (run / "metrics").mkdir(parents=True, exist_ok=True)
    times = dict(zip(df["step"].astype(int), df["time"].astype(float), strict=True))
    lines: dict[str, list[str]] = {}
    for call in lightning_calls(df, epoch_steps):
        step = call.pop("step")
        ms = int(1000 * times.get(step, times.get(step - 1, 0.0)))
        for key, value in call.items():
            lines.setdefault(key, []).append(f"{ms} {float(value)} {step}\n")
    for key, ls in lines.items():
        f = run / "metrics" / key
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("".join(ls), encoding="utf-8")
    for key, value in _flat(params or {}).items():
        f = run / "params" / key
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(str(value), encoding="utf-8")
    (run / "tags").mkdir(exist_ok=True)
    (run / "tags" / "mlflow.runName").write_text("radiodiff-vae", encoding="utf-8")
    start = int(1000 * float(df["time"].iloc[0]))
    (run / "meta.yaml").write_text(yaml.dump({
        "artifact_uri": f"file:///work/mlruns/{experiment}/{run_id}/artifacts", "end_time": None,
        "entry_point_name": "", "experiment_id": experiment, "lifecycle_stage": "active",
        "run_id": run_id, "run_name": "radiodiff-vae", "run_uuid": run_id, "source_name": "",
        "source_type": 4, "source_version": "", "start_time": start, "status": 1, "tags": [],
        "user_id": "researcher"}), encoding="utf-8")
    exp_meta = Path(mlruns) / experiment / "meta.yaml"
    if not exp_meta.exists():
        exp_meta.write_text(yaml.dump({"artifact_location": f"file:///work/mlruns/{experiment}",
                                       "experiment_id": experiment, "lifecycle_stage": "active",
                                       "name": "radiodiff"}), encoding="utf-8")
    return run


def _flat(d: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in d.items():
        key = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_flat(v, key))
        else:
            out[key] = v
    return out
