"""The one in-memory form of a training run, whatever format its records came in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Segment:
    """One source file (or TensorBoard run) of a run; resumes make several."""

    source: str                 # path as given / found
    # its format: a :class:`~radiovae.runlog.formats.Format` (a ``str`` Enum: "radiodiff_log",
    # "csv", ... compare equal to it), or the Enum member of a format registered from outside
    format: str
    first_step: int | None
    last_step: int | None
    first_time: float | None = None   # unix seconds of its first record, if known
    records: int = 0            # rows read from this segment (before the merge)
    skipped_lines: int = 0      # lines that were not records (tqdm, warnings, cut last line, ...)
    # decimals every value was printed with (RadioDiff's text and parsed CSV: 5, so any value
    # below 5e-6 reads 0); None: full precision (JSONL / TensorBoard of the real values)
    decimals: int | None = None


@dataclass
class Run:
    """A training run: one row per step, sorted, one column per metric.

    ``table`` has an int ``step`` column, an optional float ``time`` column (unix seconds) and one
    float column per metric, named as in the source (``train/total_loss``, ``lr``, ...);
    non-finite values are kept as NaN / +-inf. Where segments overlap, the later segment wins.
    ``config`` is what the records said about the run (RadioDiff's printed cfg dict, a run dir's
    config.yaml), flattened to the keys the analysis needs plus the raw dict under ``"raw"``.
    """

    table: pd.DataFrame
    segments: list[Segment] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    skipped_lines: int = 0
    evaluation: dict[str, Any] | None = None   # a radiovae run dir's evaluation.json, if any
    # where training restarted: {"step", "previous_last_step", "overlap_steps", "gap_s", "time",
    # "source"}; from the order of the segments and from steps going backwards inside one file
    resumes: list[dict[str, Any]] = field(default_factory=list)
    # what kind of training wrote these records: "vae" (first-stage VAE / VAE-GAN), "ldm" (a
    # stage-2 latent diffusion run such as RadioDiff's train_cond_ldm.py) or "unknown"
    kind: str = "vae"
    # per metric, the steps whose records wrote the value as NaN; every other NaN cell of
    # ``table`` was not written (a term a line did not carry, a discriminator line a crash cut
    # off): absent, not non-finite. None: some reader could not tell, so any NaN may be a value
    nan_steps: dict[str, np.ndarray] | None = None
    # validation / test results (``val/rec_loss``, ...) and per-epoch means (Lightning's
    # ``aeloss_epoch``): step, time and their columns, kept out of ``table`` so that nothing
    # reads them as training values per step; None when the records have none
    validation: pd.DataFrame | None = None
    epoch_means: pd.DataFrame | None = None
    # what could not be read as written: the first few {"source", "line", "what"} (skipped lines,
    # out-of-range steps, values beyond float range, ...) and how many there were in all
    notes: list[dict[str, Any]] = field(default_factory=list)
    note_count: int = 0
    # the trainer's end-of-run marker ({"step", "stopped", "time", "source"}) when the records
    # end with one: the run is over (finished, stopped at --max-steps, or diverged)
    end: dict[str, Any] | None = None

    @property
    def metrics(self) -> list[str]:
        return [c for c in self.table.columns if c not in ("step", "time")]
