"""TensorBoard event files: scalars by tag, as written by RadioDiff (SummaryWriter) or radiovae.

radiovae's events hold the text log's terms under the text log's names. RadioDiff's
``train_vae.py`` (lines 257-267) writes other things under bare names, every step; they are
turned into what its text log says, so both give one diagnosis (:func:`from_radiodiff_tb`):

* ``total_loss`` is the sum over the step's passes of loss / ``gradient_accumulate_every``: with the
  official 2, (G loss + D loss) / 2, so the G loss (the text log's ``train/total_loss``) is
  2 * total_loss - disc_loss; with the fork's 1 it is the G loss itself.
* a fork of RadioDiff (accumulation 1, where the discriminator never runs) writes ``disc_loss``,
  ``logits_real``, ``logits_fake`` as 0.0 placeholders: all three exactly 0 at every step means
  no value was measured, and the columns are dropped (the text log has no discriminator line).
* ``Learning_Rate`` is written after the scheduler stepped (the next step's LR); it becomes ``lr``.
* ``logvar`` and ``nll_loss`` are not in RadioDiff's events at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from radiovae.runlog.records import Records, empty_table, merge_ordered_rows, step_resumes


def is_event_file(path: Path, head: bytes) -> bool:
    """TFRecord framing with an Event proto: the first record carries ``brain.Event:<version>``."""
    return "tfevents" in path.name or (len(head) > 12 and b"brain.Event:" in head[:64])


def parse_tensorboard(path: Path) -> Records:
    """Every scalar of one event file; one row per step, the event's wall time as ``time``."""
    from tensorboard.backend.event_processing import event_file_loader
    from tensorboard.util import tensor_util

    steps, tags, values, times = [], [], [], []
    loader = event_file_loader.LegacyEventFileLoader(str(path))
    try:
        for event in loader.Load():
            if not event.HasField("summary"):
                continue
            for v in event.summary.value:
                kind = v.WhichOneof("value")
                if kind == "simple_value":
                    value = float(v.simple_value)
                elif kind == "tensor":
                    arr = tensor_util.make_ndarray(v.tensor)
                    if arr.size != 1 or arr.dtype.kind not in "fiu":
                        continue
                    value = float(arr.reshape(-1)[0])
                else:
                    continue
                steps.append(event.step)
                tags.append(v.tag)
                values.append(value)
                times.append(event.wall_time)
    except Exception:  # a torn last record while the writer is active: keep what was read
        if not steps:
            raise
    if not steps:
        return Records(empty_table(), nan_steps={})
    long = pd.DataFrame({"step": np.asarray(steps, dtype="int64"), "tag": tags,
                         "value": np.asarray(values, dtype="float64"),
                         "time": np.asarray(times, dtype="float64")})
    order = long.groupby("step", sort=False)["time"].first()  # write order of the steps
    last = long.drop_duplicates(["step", "tag"], keep="last")   # NaN values must survive
    wide = last.pivot(index="step", columns="tag", values="value")
    wide = wide.reindex(order.index)
    wide.columns = [str(c) for c in wide.columns]
    raw = pd.concat([pd.DataFrame({"step": order.index.to_numpy(dtype="int64"),
                                   "time": order.to_numpy()}),
                     wide.reset_index(drop=True)], axis=1)
    raw = from_radiodiff_tb(raw)
    resumes = step_resumes(raw["step"].to_numpy(), raw["time"].to_numpy())
    nan = last[np.isnan(last["value"].to_numpy())]       # written NaN; a missing tag is absent
    nan_steps = {}
    for tag, steps in nan.groupby("tag")["step"]:
        name = tag if tag in raw.columns else ("lr" if tag == "Learning_Rate" else f"train/{tag}")
        nan_steps[name] = np.unique(steps.to_numpy(dtype=np.int64))
    return Records(merge_ordered_rows(raw), records=len(long), resumes=resumes,
                   nan_steps=nan_steps)


RADIODIFF_TB_TAGS = {"total_loss", "rec_loss", "kl_loss", "d_weight", "disc_factor", "g_loss",
                     "Learning_Rate"}
_DISC = ("disc_loss", "logits_real", "logits_fake")


def from_radiodiff_tb(table: pd.DataFrame, passes: int = 2) -> pd.DataFrame:
    """RadioDiff's TensorBoard scalars (bare names) as its text log's terms; other tables as given.

    ``passes``: RadioDiff's ``gradient_accumulate_every`` when the discriminator terms are real
    (the official configs' 2; only 1 and 2 can be told apart from the events themselves).
    """
    cols = set(table.columns)
    if not RADIODIFF_TB_TAGS <= cols or any(c.startswith("train/") for c in cols):
        return table
    out = table.copy()
    disc = [c for c in _DISC if c in cols]
    placeholders = bool(disc) and all(
        bool((out[c].fillna(0.0) == 0.0).all()) for c in ("logits_real", "logits_fake") if c in cols)
    if placeholders or not disc:          # the fork: the discriminator never ran; total = G loss
        out = out.drop(columns=disc)
        g_total = out["total_loss"]
    else:                                  # official: (G + D) / passes, D the last pass's
        g_total = passes * out["total_loss"] - (passes - 1) * out["disc_loss"]
    out = out.drop(columns=["total_loss"]).rename(columns={"Learning_Rate": "lr"})
    out.insert(2, "total_loss", g_total)
    return out.rename(columns={c: f"train/{c}" for c in out.columns
                               if c not in ("step", "time", "lr")})
