"""Training, validation and per-epoch columns of one run, told apart by name.

Loggers that follow PyTorch Lightning's conventions (its CSVLogger, TensorBoardLogger, WandbLogger,
MLFlowLogger; latent-diffusion's and taming's ``main.py``) put everything into one stream of
records: training terms logged each step (``train/rec_loss``), the same term with ``_step`` /
``_epoch`` suffixes when logged with ``on_step=True, on_epoch=True`` (``aeloss_step`` at each
logged step, ``aeloss_epoch`` = the epoch's mean, in a row of its own at the epoch's end), and
validation results (``val/rec_loss``) in rows of their own. Read as one table, a validation loss
would pass for a training loss and an epoch mean for a step's value; :func:`split_streams` keeps
them apart so the analysis sees only training values per step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from radiovae.runlog.records import by_column

# val/..., val_ema/..., valid_loss, validation/..., test/...; loss/val, loss_val
_VALIDATION = re.compile(r"^(val|valid|validation|test)(_ema)?([/_.\-]|$)"
                         r"|[/_.\-](val|valid|validation)$", re.IGNORECASE)
_STEP, _EPOCH = "_step", "_epoch"
# names where "_step" is part of the meaning, not Lightning's suffix
_STEP_WORD = re.compile(r"(^|[/_.\-])(global|per|time|samples|tokens|images|optimizer|lr)_step$",
                        re.IGNORECASE)


def is_validation(name: str) -> bool:
    """A validation / test metric by its name (``val/rec_loss``, ``val_loss``, ``loss/val``)."""
    return bool(_VALIDATION.search(name))


@dataclass
class StreamNames:
    """How one run's columns divide: training (with their names after a ``_step`` suffix is
    dropped), validation, and per-epoch means."""

    train: dict[str, str]        # column -> name in the training table
    validation: list[str]
    epoch: list[str]

    @property
    def trivial(self) -> bool:
        return not self.validation and not self.epoch and all(k == v for k, v in self.train.items())


def classify(columns: Iterable[str]) -> StreamNames:
    """Divide metric columns (not ``step`` / ``time``).

    ``X_epoch`` is an epoch mean when ``X_step`` (or ``X``) is logged too: Lightning adds the
    suffixes only to a value logged both per step and per epoch. ``X_step`` becomes ``X``
    (``train/total_loss_step`` -> ``train/total_loss``; the ``_epoch`` partner appears only when
    the first epoch ends, which for latent-diffusion's long epochs may be never), unless a column
    ``X`` exists already or ``_step`` is part of the name's meaning (``global_step``).
    """
    cols = [c for c in columns if c not in ("step", "time")]
    present = set(cols)
    validation = [c for c in cols if is_validation(c)]
    rest = [c for c in cols if c not in set(validation)]
    epoch = [c for c in rest if c.endswith(_EPOCH) and
             (c[:-len(_EPOCH)] + _STEP in present or c[:-len(_EPOCH)] in present)]
    train: dict[str, str] = {}
    for c in rest:
        if c in epoch:
            continue
        base = c[:-len(_STEP)] if c.endswith(_STEP) else None
        if base and base not in present and not _STEP_WORD.search(c):
            train[c] = base
        else:
            train[c] = c
    return StreamNames(train, validation, epoch)


def split_streams(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None,
                                                 pd.DataFrame | None]:
    """``(training, validation, epoch_means)`` of a run's merged table.

    The training table keeps ``step``, ``time`` and the training columns (renamed as
    :func:`classify` says); a row that only carried validation or epoch values (no training value
    at that step) leaves it. The other two hold ``step``, ``time`` and their columns, one row per
    step where any of them has a value; None when the run has none.
    """
    names = classify(table.columns)
    if names.trivial:
        return table, None, None
    keep = ["step", "time"] if "time" in table.columns else ["step"]
    train = table[keep + list(names.train)].rename(columns=names.train)
    moved = names.validation + names.epoch
    if moved and names.train:
        values = train[list(names.train.values())].to_numpy(dtype="float64")
        other = table[moved].to_numpy(dtype="float64")
        only_other = np.isnan(values).all(axis=1) & np.isfinite(other).any(axis=1)
        if only_other.any():
            train = train[~only_other]
        train = train.reset_index(drop=True)
    return by_column(train), _side(table, keep, names.validation), _side(table, keep, names.epoch)


def _side(table: pd.DataFrame, keep: list[str], cols: list[str]) -> pd.DataFrame | None:
    if not cols:
        return None
    side = table[keep + cols]
    logged = ~np.isnan(side[cols].to_numpy(dtype="float64")).all(axis=1)
    return by_column(side[logged].reset_index(drop=True))
