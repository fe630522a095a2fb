"""MLflow's file store: ``mlruns/<experiment id>/<run id>/{meta.yaml, metrics/, params/, tags/}``.

Each metric is a file under ``metrics/`` named by its key (a key with ``/`` makes sub-folders:
``metrics/train/rec_loss``), one line per logged value: ``<timestamp ms> <value> <step>`` (the
step may be missing in files of old clients: it is then 0). Each param is a file under
``params/`` holding its value as text. Values of one step are one row; a line that is not three
numbers is skipped and counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radiovae.errors import UserError
from radiovae.runlog.records import Records, empty_table, step_resumes
from radiovae.runlog.tree import Tree

META = "meta.yaml"


def is_run_dir(d: Path) -> bool:
    return (d / META).is_file() and (d / "metrics").is_dir()


def run_dirs_in(tree: Tree) -> list[Path]:
    """The run folders anywhere in ``tree`` (``mlruns/<exp>/<run>``, at any depth: a project
    folder holding ``mlruns/`` is searched as TensorBoard searches a logdir); a run inside
    another run's folder (its artifacts) is not a run of its own."""
    runs = sorted({f.parent for f in tree.named(META) if is_run_dir(f.parent)})
    return [r for r in runs if not any(o in r.parents for o in runs)]


def read_run(d: Path) -> Records:
    """All metrics of one run as one table (step, time = latest timestamp of the step)."""
    metrics_dir = d / "metrics"
    steps, times, values, keys = [], [], [], []
    skipped = 0
    for f in sorted(p for p in metrics_dir.rglob("*") if p.is_file()):
        key = f.relative_to(metrics_dir).as_posix()
        if key == "epoch":           # MLFlowLogger logs the trainer's epoch: bookkeeping
            continue
        try:
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise UserError(f"{f}: unreadable MLflow metric file ({e.strerror})") from None
        for line in text.splitlines():
            parts = line.split()
            if not parts:
                continue
            try:
                ts, value = int(parts[0]), float(parts[1])
                step = int(parts[2]) if len(parts) == 3 else 0
                if len(parts) not in (2, 3) or not 0 <= step <= 2 ** 53 \
                        or not -2 ** 62 < ts < 2 ** 62:
                    raise ValueError
            except (ValueError, IndexError):
                skipped += 1
                continue
            steps.append(step)
            times.append(ts / 1000.0)
            values.append(value)
            keys.append(key)
    config = _params(d / "params")
    if not steps:
        return Records(empty_table(), config=config, skipped_lines=skipped)
    long = pd.DataFrame({"step": np.asarray(steps, dtype="int64"), "key": keys,
                         "value": np.asarray(values, dtype="float64"),
                         "time": np.asarray(times, dtype="float64")})
    # a key logged twice at one step: the later write wins (its timestamp, then file order)
    long = long.sort_values(["step", "time"], kind="stable")
    last = long.drop_duplicates(["step", "key"], keep="last")
    wide = last.pivot(index="step", columns="key", values="value")
    when = long.groupby("step")["time"].max()
    table = pd.DataFrame({"step": wide.index.to_numpy(dtype="int64"),
                          "time": when.reindex(wide.index).to_numpy(dtype="float64")})
    for key in wide.columns:
        table[key] = wide[key].to_numpy(dtype="float64")
    # a resume shows as a step going back in time order; judged on the most-logged key
    main = long[long["key"] == long["key"].value_counts().index[0]].sort_values("time",
                                                                               kind="stable")
    resumes = step_resumes(main["step"].to_numpy(), main["time"].to_numpy())
    return Records(table, config=config, skipped_lines=skipped, records=len(steps),
                   resumes=resumes)


def _params(d: Path) -> dict[str, Any] | None:
    """``params/<key>`` files -> a dict; ``a/b`` keys (Lightning's flattened hparams) nest."""
    if not d.is_dir():
        return None
    out: dict[str, Any] = {}
    for f in sorted(p for p in d.rglob("*") if p.is_file()):
        parts = f.relative_to(d).parts
        node = out
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                break
            node = nxt
        else:
            node[parts[-1]] = f.read_text(encoding="utf-8", errors="replace").strip()
    return out or None

