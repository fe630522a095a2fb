"""The loggers researchers use besides RadioDiff's own: PyTorch Lightning's CSVLogger, Weights &
Biases (run folder, CSV exports) and MLflow's file store; told apart by content and layout.

``load.py`` asks :func:`detect_file` about a file before its generic CSV / JSONL checks, and
:func:`read_logger_dir` about a directory before scanning it file by file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from radiovae.errors import UserError
from radiovae.runlog import mlflow, wandb
from radiovae.runlog.lightning_csv import (
    looks_like_lightning,
    parse_lightning_csv,
    read_yaml_lenient,
)
from radiovae.runlog.records import Records
from radiovae.runlog.tree import Tree

FILE_FORMATS = ("lightning_csv", "wandb_history", "wandb_csv")
DIR_FORMATS = ("mlflow",)
_VERSION = re.compile(r"^version_(\d+)$")


def detect_file(path: Path, text: str, first: str) -> str | None:
    """The logger that wrote this file, from its first line (and for W&B's binary run file,
    its name); None when it is none of these."""
    if first.startswith("{"):
        if path.name == wandb.SUMMARY:   # the last values only, shaped like a history line
            return None
        try:
            obj = json.loads(first)
        except ValueError:
            return None
        return "wandb_history" if wandb.looks_like_history_line(obj) else None
    if "," in first:
        cols = [c.strip().strip('"') for c in first.split(",")]
        if wandb.looks_like_export(cols):
            return "wandb_csv"
        if looks_like_lightning(cols):
            return "lightning_csv"
    return None


def binary_message(path: Path) -> str | None:
    """What to say about a binary file a logger wrote (W&B's ``.wandb``), if it is one."""
    if path.suffix == ".wandb":
        return (f"{path}: a W&B binary run file cannot be read offline; give the run folder "
                f"(its files/{wandb.HISTORY}) or a CSV export of the run")
    return None


def parse_file(path: Path, fmt: str) -> Records:
    data = path.read_bytes()
    if fmt == "lightning_csv":
        return parse_lightning_csv(path, data)
    if fmt == "wandb_history":
        config = wandb.unwrap_config(read_yaml_lenient(path.parent / wandb.CONFIG))
        return wandb.parse_history(data, config)
    if fmt == "wandb_csv":
        try:
            return wandb.parse_export(data)
        except UserError as e:
            raise UserError(f"{path}: {e}") from None
    raise ValueError(f"not a logger file format: {fmt}")


def read_logger_dir(d: Path, tree: Tree) -> tuple[list[tuple[Path, str, Records]], list[Path]] | None:
    """The sources of the one run a logger's folder holds, in launch order, and the folders that
    run occupies; None when ``d`` is no logger's folder. ``tree``: ``d`` as :func:`tree.scan`
    lists it (nothing outside ``d`` is looked at). A folder of several runs (an MLflow
    experiment, a ``wandb/`` folder) is refused with their names: which of them belong
    together is the user's call."""
    runs = mlflow.run_dirs(d)
    if runs:
        if len(runs) > 1:
            raise UserError(_several(d, "MLflow runs", runs))
        records = mlflow.read_run(runs[0])
        return [(runs[0], "mlflow", records)], [runs[0]]
    if (files := wandb.run_files(d)) is not None:
        return [(files / wandb.HISTORY, "wandb_history", wandb.read_run_folder(files))], [d]
    folders = sorted({f.parent.parent if f.parent.name == "files" else f.parent
                      for f in tree.named(wandb.HISTORY, min_depth=1)})
    if folders:
        if len(folders) > 1:
            raise UserError(_several(d, "W&B runs", folders))
        files = wandb.run_files(folders[0])
        assert files is not None
        return [(files / wandb.HISTORY, "wandb_history", wandb.read_run_folder(files))], folders
    found = _lightning_versions(d, tree)
    binary = next((f for f in tree.files if f.suffix == ".wandb"
                   and len(f.relative_to(d).parts) <= 2), None)
    if found is None and binary is not None:
        raise UserError(binary_message(binary) or "")
    return found


def _lightning_versions(d: Path, tree: Tree
                        ) -> tuple[list[tuple[Path, str, Records]], list[Path]] | None:
    """``version_N/metrics.csv`` under ``d`` (or ``d/metrics.csv``), by N: Lightning starts a new
    version on each launch, so a folder of versions is one run resumed (pass one version folder
    for one launch)."""
    if (d / "metrics.csv") in tree.files:
        csvs = [d / "metrics.csv"]
    else:
        csvs = [f for f in tree.named("metrics.csv", min_depth=1)
                if f.parent.parent == d and _VERSION.match(f.parent.name)]
        csvs.sort(key=lambda p: int(_VERSION.match(p.parent.name).group(1)))  # type: ignore[union-attr]
    found = []
    for csv in csvs:
        head = csv.read_bytes()[:1 << 16].decode("utf-8", "replace")
        first = next((ln.strip() for ln in head.splitlines() if ln.strip()), "")
        if detect_file(csv, head, first) == "lightning_csv":
            found.append((csv, "lightning_csv", parse_lightning_csv(csv, csv.read_bytes())))
    return (found, [c.parent for c in csvs]) if found else None


def _several(d: Path, what: str, runs: list[Path]) -> str:
    names = ", ".join(str(r.relative_to(d)) for r in runs[:4]) + (", …" if len(runs) > 4 else "")
    return (f"{d}: holds {len(runs)} {what} ({names}); give the folder of one run (compare "
            "several with `radiovae compare`)")
