"""Where a logger's run lies in a folder: PyTorch Lightning's CSVLogger versions, Weights &
Biases run folders and MLflow's file store, found anywhere below the folder given (as
TensorBoard searches its logdir), each run named when there are several.

``load.py`` asks :func:`read_logger_dir` about a directory before scanning it file by file; the
files themselves are read by their formats' readers (:mod:`radiovae.runlog.readers`).
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

from radiovae.errors import UserError
from radiovae.runlog import wandb
from radiovae.runlog.chunks import read_with
from radiovae.runlog.formats import Format, Probe, reader_for, readers
from radiovae.runlog.records import Records
from radiovae.runlog.tree import Tree

_VERSION = re.compile(r"^version_(\d+)$")


def binary_message(path: Path) -> str | None:
    """What to say about a binary file a logger wrote (W&B's ``.wandb``), if it is one."""
    if path.suffix == ".wandb":
        return (f"{path}: a W&B binary run file cannot be read offline; give the run folder "
                f"(its files/{wandb.HISTORY}) or a CSV export of the run")
    return None


def read_logger_dir(d: Path, tree: Tree
                    ) -> tuple[list[tuple[Path, Enum, Records]], list[Path]] | None:
    """The sources of the one run a logger's folder holds, in launch order, and the folders that
    run occupies; None when ``d`` is no logger's folder. ``tree``: ``d`` as :func:`tree.scan`
    lists it (nothing outside ``d`` is looked at). A folder of several runs (an MLflow
    experiment, a ``wandb/`` folder) is refused with their names: which of them belong
    together is the user's call."""
    for reader in readers():         # formats whose run is a folder layout (MLflow's store)
        runs = reader.runs(tree) or []
        if len(runs) > 1:
            raise UserError(several(d, reader.plural, runs))
        if runs:
            return [(runs[0], reader.format, reader.read_run(runs[0]))], [runs[0]]
    history = Format.WANDB_HISTORY
    if (files := wandb.run_files(d)) is not None:
        return [(files / wandb.HISTORY, history, wandb.read_run_folder(files))], [d]
    folders = sorted({f.parent.parent if f.parent.name == "files" else f.parent
                      for f in tree.named(wandb.HISTORY, min_depth=1)})
    if folders:
        if len(folders) > 1:
            raise UserError(several(d, "W&B runs", folders))
        files = wandb.run_files(folders[0])
        assert files is not None
        return [(files / wandb.HISTORY, history, wandb.read_run_folder(files))], folders
    found = _lightning_versions(d, tree)
    binary = next((f for f in tree.files if f.suffix == ".wandb"
                   and len(f.relative_to(d).parts) <= 2), None)
    if found is None and binary is not None:
        raise UserError(binary_message(binary) or "")
    return found


def _lightning_versions(d: Path, tree: Tree
                        ) -> tuple[list[tuple[Path, Format, Records]], list[Path]] | None:
    """``version_N/metrics.csv`` of one logger folder anywhere under ``d`` (``d/lightning_logs``,
    ``d/<run>/csv``), by N: Lightning starts a new version on each launch, so a folder of versions
    is one run resumed (pass one version folder for one launch); or ``d/metrics.csv`` itself.
    Versions under two logger folders are two runs: refused, named."""
    reader = reader_for(Format.LIGHTNING_CSV)

    def lightning(csv: Path) -> bool:
        try:
            with open(csv, "rb") as fh:
                return reader.sniff(Probe(csv, fh.read(1 << 16))) is not None
        except OSError:
            return False

    if (d / "metrics.csv") in tree.files:
        csvs = [d / "metrics.csv"] if lightning(d / "metrics.csv") else []
    else:
        by_folder: dict[Path, list[Path]] = {}
        for f in tree.named("metrics.csv", min_depth=1):
            if _VERSION.match(f.parent.name) and lightning(f):
                by_folder.setdefault(f.parent.parent, []).append(f)
        if len(by_folder) > 1:
            raise UserError(several(d, "Lightning runs", sorted(by_folder)))
        csvs = next(iter(by_folder.values()), [])
        csvs.sort(key=lambda p: int(_VERSION.match(p.parent.name).group(1)))  # type: ignore[union-attr]
    found = [(csv, Format.LIGHTNING_CSV, read_with(reader, csv)) for csv in csvs]
    return (found, [c.parent for c in csvs]) if found else None


def several(d: Path, what: str, runs: list[Path]) -> str:
    """The message refusing a folder of several runs, naming them."""
    names = ", ".join(str(r.relative_to(d)) for r in runs[:4]) + (", …" if len(runs) > 4 else "")
    return (f"{d}: holds {len(runs)} {what} ({names}); give the folder of one run (compare "
            "several with `radiovae compare`)")
