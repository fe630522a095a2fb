"""Weights & Biases, read offline: a run folder's history / config, and CSV exports.

A run folder (``wandb/run-<time>-<id>/files/``) holds ``wandb-history.jsonl`` (one JSON object per
``wandb.log`` call: ``_step`` counting the calls, ``_timestamp`` unix seconds, ``_runtime``, the
logged keys; media as ``{"_type": ...}`` objects), ``wandb-summary.json`` (last values) and
``config.yaml`` (``wandb_version: 1`` then each key as ``{desc: ..., value: ...}``). The binary
``run-<id>.wandb`` of newer clients cannot be read without W&B's own tools.

Exports: ``run.history().to_csv()`` (columns ``_step``, ``_runtime``, ``_timestamp`` and the
metrics, often a leading unnamed index column) and a chart's "Export CSV" (``Step``, then
``<run name> - <metric>`` with ``__MIN`` / ``__MAX`` companions for the sampled range).

The step is Lightning's ``trainer/global_step`` when WandbLogger logged it (``_step`` counts
calls: LearningRateMonitor's, the training step's and the validation's), else ``_step``. Calls of
one step are merged; validation and epoch means are told apart when the run is assembled.
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radiovae.errors import UserError
from radiovae.runlog.lightning_csv import read_yaml_lenient
from radiovae.runlog.records import (
    FLOAT_INT_MAX,
    MAX_NOTES,
    Records,
    beyond_float,
    empty_table,
    merge_ordered_rows,
    step_problem,
    step_resumes,
    valid_steps,
)
from radiovae.runlog.tabular import row_lines

HISTORY, SUMMARY, CONFIG = "wandb-history.jsonl", "wandb-summary.json", "config.yaml"
GLOBAL_STEP = "trainer/global_step"
_BIG_INT = re.compile(rb"\d{309}")     # 309 digits: 10**308 and up, where floats end
_BOOKKEEPING = {"_step", "_runtime", "_timestamp", "_wandb", GLOBAL_STEP, "epoch", "Step"}


def looks_like_history_line(obj: Any) -> bool:
    return isinstance(obj, dict) and "_step" in obj and ("_timestamp" in obj or "_runtime" in obj)


def looks_like_export(columns: list[str]) -> bool:
    """``run.history()`` CSV (``_step`` + ``_timestamp`` / ``_runtime``) or a chart export
    (``Step`` then ``<run> - <metric>``)."""
    cols = [c.strip().strip('"') for c in columns]
    if "_step" in cols and ("_timestamp" in cols or "_runtime" in cols):
        return True
    return bool(cols) and cols[0] == "Step" and any(" - " in c for c in cols[1:])


def parse_history(data: bytes, config: dict | None = None) -> Records:
    """``wandb-history.jsonl``: numeric values of each call; media and text are not metrics.

    A line that is not a call (not JSON, nested too deep, no ``_step`` with ``_timestamp`` /
    ``_runtime``), a cut last line and a call without a usable step are skipped and noted."""
    end = data.rfind(b"\n") + 1
    body, tail = data[:end], data[end:]
    acc = Records(empty_table(), config=config)
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    for n, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line.decode("utf-8", "replace"))
        except (ValueError, RecursionError) as e:
            acc.skipped_lines += 1
            acc.note(n, "nested too deep" if isinstance(e, RecursionError) else "not JSON")
            continue
        if not looks_like_history_line(obj):
            acc.skipped_lines += 1
            acc.note(n, "not a W&B history line (no _step with _timestamp or _runtime)")
            continue
        if _BIG_INT.search(line):     # an integer beyond float range: read as +-inf, said
            for k, v in obj.items():
                if type(v) is int and abs(v) > FLOAT_INT_MAX and k not in _BOOKKEEPING \
                        and not k.startswith("_"):
                    acc.note(n, beyond_float(k, v))
        rows.append(obj)
        lines.append(n)
    if tail.strip():
        acc.skipped_lines += 1
        acc.note(body.count(b"\n") + 1, "an unfinished last line (no newline), skipped")
    if not rows:
        return acc
    return _records(pd.DataFrame.from_records(rows), acc, np.asarray(lines))


def parse_export(data: bytes) -> Records:
    """A CSV export of one run (history or a chart); a chart export of several runs is refused."""
    try:
        df = pd.read_csv(io.BytesIO(data), skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"unreadable W&B CSV export ({str(e).splitlines()[0]})") from None
    df.columns = [str(c).strip() for c in df.columns]
    df = df.drop(columns=[c for c in df.columns if c.startswith("Unnamed:")])
    if "Step" in df.columns and "_step" not in df.columns:
        metric_cols = [c for c in df.columns if " - " in c
                       and not c.endswith(("__MIN", "__MAX"))]
        runs = sorted({c.split(" - ", 1)[0] for c in metric_cols})
        if len(runs) > 1:
            raise UserError(f"W&B chart export holds {len(runs)} runs ({', '.join(runs[:4])}"
                            f"{', …' if len(runs) > 4 else ''}); export one run per file and "
                            "give each as its own RUN to `radiovae compare`")
        df = df[["Step", *metric_cols]].rename(
            columns={c: c.split(" - ", 1)[1] for c in metric_cols} | {"Step": "_step"})
    return _records(df, Records(empty_table()), row_lines(data, [])[:len(df)])


def _records(df: pd.DataFrame, acc: Records, lines: np.ndarray) -> Records:
    """The calls of ``df`` (``lines``: each one's line in the file) merged by step into ``acc``;
    calls without a usable step are skipped and noted."""
    step_col = GLOBAL_STEP if GLOBAL_STEP in df.columns else "_step"
    if step_col not in df.columns:
        raise UserError("W&B records without a step column (`_step`)")
    raw_step = df[step_col]
    step = pd.to_numeric(raw_step.map(_finite_or_nan) if raw_step.dtype == object
                         else raw_step, errors="coerce")
    bad = np.zeros(len(df), dtype=bool)
    orphans, out_of_range = Records(empty_table()), Records(empty_table())
    if step_col == GLOBAL_STEP:
        # calls without trainer/global_step (media, custom wandb.log) have no place on its axis
        metric_cols = [c for c in df.columns if c not in _BOOKKEEPING]
        orphan = step.isna().to_numpy() & _numeric(df[metric_cols]).notna().any(axis=1).to_numpy()
        orphans.note_rows(np.flatnonzero(orphan), lines,
                          lambda _i: f"a call with metrics but no {GLOBAL_STEP}")
        bad |= orphan
    good = valid_steps(step.to_numpy(dtype="float64"))   # 0 ... 2^53; 1e20, -1, 1.5 are not
    beyond = step.notna().to_numpy() & ~good
    out_of_range.note_rows(np.flatnonzero(beyond), lines, lambda i: step_problem(raw_step.iloc[i]))
    bad |= beyond
    acc.skipped_lines += int(bad.sum())
    _first_by_line(acc, orphans, out_of_range)
    df, step = df[good], step[good]
    out: dict[str, np.ndarray] = {"step": step.astype("int64").to_numpy()}
    t = pd.to_numeric(df["_timestamp"], errors="coerce") if "_timestamp" in df.columns else None
    out["time"] = t.to_numpy(dtype="float64") if t is not None else np.full(len(df), np.nan)
    for col in df.columns:
        if col in _BOOKKEEPING or col.startswith("_"):
            continue
        values = _numeric(df[[col]])[col]
        if values.notna().any():
            out[col] = values.to_numpy(dtype="float64")
    raw = pd.DataFrame(out)
    acc.resumes = step_resumes(raw["step"].to_numpy(), raw["time"].to_numpy())
    acc.records = len(raw)
    acc.table = merge_ordered_rows(raw)
    return acc


def _first_by_line(acc: Records, *more: Records) -> None:
    """Add the notes of ``more`` (each the first few of one kind, in line order) to ``acc``'s:
    the first few of all of them by line are named, every one counted."""
    found = acc.notes + [n for r in more for n in r.notes]
    acc.notes = sorted(found, key=lambda n: (n["line"] is None, n["line"] or 0))[:MAX_NOTES]
    acc.note_count += sum(r.note_count for r in more)


def _finite_or_nan(v: Any) -> Any:
    """A Python int beyond float range (10**400) as +-inf; other values as they are."""
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > FLOAT_INT_MAX:
        return math.inf if v > 0 else -math.inf
    return v


def _numeric(df: pd.DataFrame) -> pd.DataFrame:
    """Numbers stay, NaN / Infinity included; media dicts, strings and booleans become NaN."""
    def num(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            if isinstance(v, str):
                try:
                    return float(v)
                except ValueError:
                    return math.nan
            return math.nan
        return _finite_or_nan(v) if isinstance(v, int) else float(v)
    return df.apply(lambda s: s.map(num) if s.dtype == object else
                    pd.to_numeric(s, errors="coerce"))


def unwrap_config(raw: dict | None) -> dict | None:
    """W&B's ``config.yaml`` -> the plain config: ``{key: {desc, value}}`` -> ``{key: value}``,
    without ``wandb_version`` and W&B's own ``_wandb`` entry."""
    if not isinstance(raw, dict):
        return None
    out = {}
    for key, entry in raw.items():
        if key in ("wandb_version", "_wandb"):
            continue
        out[key] = entry["value"] if isinstance(entry, dict) and "value" in entry else entry
    return out or None


def run_files(d: Path) -> Path | None:
    """The folder holding a run's history: ``d/files`` or ``d`` itself."""
    for candidate in (d / "files", d):
        if (candidate / HISTORY).is_file():
            return candidate
    return None


def read_run_folder(files: Path) -> Records:
    config = unwrap_config(read_yaml_lenient(files / CONFIG))
    return parse_history((files / HISTORY).read_bytes(), config)
