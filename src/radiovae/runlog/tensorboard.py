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

The file's TFRecord framing is read here, not by TensorBoard's loader, which stops at the first
record whose CRC fails (and a catch-all then kept the records before it, unsaid): a record whose
data CRC fails is skipped and noted with its byte position, a length whose CRC fails is noted and
the reader resynchronises on the next record whose length and data CRCs both hold, and a torn
last record (the writer is still writing) is noted, never an error.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from radiovae.runlog.records import Records, empty_table, merge_ordered_rows, step_resumes


def is_event_file(path: Path, head: bytes) -> bool:
    """TFRecord framing with an Event proto: the first record carries ``brain.Event:<version>``."""
    return "tfevents" in path.name or (len(head) > 12 and b"brain.Event:" in head[:64])


def _masked_crc():
    """TFRecord's masked CRC-32C (google_crc32c's C code if installed, else TensorBoard's)."""
    try:
        import google_crc32c

        def crc(data: bytes) -> int:
            c = google_crc32c.value(data)
            return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF
        return crc
    except ImportError:
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
        return masked_crc32c


def tf_records(data: bytes, damage: list[tuple[int, str]]) -> Iterator[tuple[int, bytes]]:
    """(byte offset, payload) of each intact TFRecord in ``data``; what is not intact is
    appended to ``damage`` as (offset, what) and skipped."""
    crc = _masked_crc()
    n, pos = len(data), 0
    while pos < n:
        if n - pos < 12:
            damage.append((pos, f"a torn last record ({n - pos} bytes) ignored"))
            return
        head = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", head)
        if crc(head) != struct.unpack("<I", data[pos + 8:pos + 12])[0]:
            nxt = _resync(data, pos + 1, crc)
            damage.append((pos, f"a record whose length fails its CRC: {(nxt or n) - pos} "
                                f"bytes skipped"))
            if nxt is None:
                return
            pos = nxt
            continue
        end = pos + 12 + length
        if end + 4 > n:
            damage.append((pos, f"a torn last record ({n - pos} of {length + 16} bytes) ignored"))
            return
        payload = data[pos + 12:end]
        if crc(payload) != struct.unpack("<I", data[end:end + 4])[0]:
            damage.append((pos, "a record whose data fails its CRC: skipped"))
        else:
            yield pos, payload
        pos = end + 4


def _resync(data: bytes, start: int, crc) -> int | None:
    """The next offset from ``start`` where a whole record's length and data CRCs both hold."""
    n = len(data)
    for pos in range(start, n - 15):
        head = data[pos:pos + 8]
        if crc(head) != struct.unpack("<I", data[pos + 8:pos + 12])[0]:
            continue
        (length,) = struct.unpack("<Q", head)
        end = pos + 12 + length
        if end + 4 <= n and crc(data[pos + 12:end]) == struct.unpack("<I", data[end:end + 4])[0]:
            return pos
    return None


def parse_tensorboard(path: Path) -> Records:
    """Every scalar of one event file; one row per step, the event's wall time as ``time``.
    Damaged records are skipped and noted (:func:`tf_records`); a file of nothing but damage
    is an error (ValueError, said by the caller as unreadable)."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto import event_pb2
    from tensorboard.util import tensor_util

    steps, tags, values, times = [], [], [], []
    damage: list[tuple[int, str]] = []
    intact = 0
    for pos, payload in tf_records(path.read_bytes(), damage):
        try:
            event = event_pb2.Event.FromString(payload)
        except DecodeError:
            damage.append((pos, "a record whose CRCs hold but is no TensorBoard event: skipped"))
            continue
        intact += 1
        if not event.HasField("summary"):
            continue
        for v in event.summary.value:
            kind = v.WhichOneof("value")
            if kind == "simple_value":
                value = float(v.simple_value)
            elif kind == "tensor":
                try:
                    arr = tensor_util.make_ndarray(v.tensor)
                except (TypeError, ValueError, KeyError) as e:
                    damage.append((pos, f"tag {v.tag[:60]!r} at step {event.step} holds a "
                                        f"tensor that does not decode ({type(e).__name__}): "
                                        "skipped"))
                    continue
                if arr.size != 1 or arr.dtype.kind not in "fiu":
                    continue
                value = float(arr.reshape(-1)[0])
            else:
                continue
            steps.append(event.step)
            tags.append(v.tag)
            values.append(value)
            times.append(event.wall_time)
    if not intact and damage:
        raise ValueError(f"no intact record; at byte {damage[0][0]}: {damage[0][1]}")
    if not steps:
        return _noted(Records(empty_table(), nan_steps={}), damage)
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
    return _noted(Records(merge_ordered_rows(raw), records=len(long), resumes=resumes,
                          nan_steps=nan_steps), damage)


def _noted(rec: Records, damage: list[tuple[int, str]]) -> Records:
    for pos, what in damage:
        rec.note(None, f"TensorBoard record at byte {pos:,}: {what}")
    return rec


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
