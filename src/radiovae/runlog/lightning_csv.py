"""PyTorch Lightning's CSVLogger: ``<save_dir>/<name>/version_N/metrics.csv`` + ``hparams.yaml``.

What Lightning writes (``lightning.fabric.loggers.csv_logs._ExperimentWriter``): one CSV row per
``log_metrics`` call, the header the sorted union of every key logged so far (the file is
rewritten when a new key appears), a cell left empty where that call did not log the key, and a
``step`` column (the trainer's ``_batches_that_stepped``). The trainer adds ``epoch`` to its own
calls. So the rows are sparse: a LearningRateMonitor row (``lr-Adam``, ``step``), a training row
every ``log_every_n_steps`` (``train/rec_loss``, ``aeloss_step``, ``epoch``, ``step``), at each
epoch's end a row of epoch means (``aeloss_epoch``) and one of validation results
(``val/rec_loss``). Rows of one step are merged here; validation and epoch means are told apart
from training values when the run is assembled (:mod:`radiovae.runlog.streams`).

The config comes from ``hparams.yaml`` beside the CSV (``save_hyperparameters``) and, for
latent-diffusion / taming's ``main.py``, from the newest ``configs/*-project.yaml`` of the log
dir the logger lives in.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from radiovae.errors import UserError
from radiovae.runlog.records import Records
from radiovae.runlog.tabular import parse_csv
from radiovae.safeload import BoundedSafeLoader

_SUFFIXED = re.compile(r"_(step|epoch)$")


def looks_like_lightning(columns: list[str]) -> bool:
    """A CSV header as Lightning writes it: ``step`` and ``epoch`` columns, or ``step`` and
    metric names with Lightning's ``_step`` / ``_epoch`` suffixes."""
    cols = [c.strip().strip('"') for c in columns]
    if "step" not in cols:
        return False
    return "epoch" in cols or any(_SUFFIXED.search(c) for c in cols if c != "step")


def parse_lightning_csv(path: Path, data: bytes) -> Records:
    """The rows of one metrics.csv (same-step rows merged) and the run's config."""
    records = parse_csv(data)
    records.config = lightning_config(path.parent)
    return records


def lightning_config(log_dir: Path) -> dict[str, Any] | None:
    """``hparams.yaml`` of the version dir, merged over latent-diffusion's project config."""
    config: dict[str, Any] = {}
    project = _project_config(log_dir)
    if project:
        config.update(project)
    hparams = read_yaml_lenient(log_dir / "hparams.yaml")
    if hparams:
        config.update(hparams)
    return config or None


def _project_config(log_dir: Path) -> dict | None:
    """latent-diffusion / taming: ``logs/<run>/configs/<time>-project.yaml``, the logger's dir
    being ``logs/<run>/<name>/version_N`` (or ``logs/<run>/<name>``)."""
    for up in list(log_dir.parents)[:3]:
        found = sorted((up / "configs").glob("*-project.yaml")) if (up / "configs").is_dir() else []
        if found:
            return read_yaml_lenient(found[-1])   # names start with the launch time: newest last
    return None


class _DataLoader(BoundedSafeLoader):   # alias bombs, deep nesting refused
    """safe_load that reads Python-specific tags (``!!python/tuple``, which Lightning's
    ``save_hparams_to_yaml`` writes for tuples) as plain data and never builds objects."""


def _plain(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_DataLoader.add_multi_constructor("tag:yaml.org,2002:python/", _plain)
_DataLoader.add_multi_constructor("!", _plain)


def read_yaml_lenient(path: Path) -> dict | None:
    """A YAML mapping, or None when the file is absent; unreadable YAML is the user's error."""
    if not path.is_file():
        return None
    try:
        value = yaml.load(path.read_text(encoding="utf-8", errors="replace"),
                          Loader=_DataLoader)  # noqa: S506
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"{path}: unreadable YAML ({first})") from None
    return value if isinstance(value, dict) else None
