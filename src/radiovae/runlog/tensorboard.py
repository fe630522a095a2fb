"""TensorBoard event files: scalars by tag, as written by RadioDiff (SummaryWriter) or radiovae."""

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
        return Records(empty_table())
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
    resumes = step_resumes(raw["step"].to_numpy(), raw["time"].to_numpy())
    return Records(merge_ordered_rows(raw), records=len(long), resumes=resumes)
