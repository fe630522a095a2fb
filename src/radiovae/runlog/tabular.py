"""CSV and JSONL records: one row / object per logged step, with a ``step`` field."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from radiovae.runlog.records import (
    NAN_TEXT,
    Records,
    empty_table,
    merge_ordered_rows,
    step_resumes,
    written_nans,
)

# columns that describe the row rather than measure training
_BOOKKEEPING = {"step", "time", "timestamp", "datetime", "date", "wall_time", "total_steps",
                "epoch", "iteration"}


def parse_csv(data: bytes) -> Records:
    """A CSV with a ``step`` column (e.g. RadioDiff's training_data_parsed.csv)."""
    # only an empty cell is absent; "nan" stays text here, so a written NaN can be told apart
    df = pd.read_csv(io.BytesIO(data), skipinitialspace=True, keep_default_na=False,
                     na_values=[""])
    df.columns = [str(c).strip() for c in df.columns]
    return _records_from_frame(df, skipped=0)


def parse_jsonl(data: bytes, final: bool = True) -> Records:
    """One JSON object per line with a ``step`` key; NaN / Infinity tokens are kept.

    A last line without its newline (still being written) is skipped, and counted when ``final``.
    """
    end = data.rfind(b"\n") + 1
    body, tail = data[:end], data[end:]
    rows: list[dict[str, Any]] = []
    nans: dict[str, list[int]] = {}      # key -> rows that wrote NaN (the token, not a gap)
    skipped = 1 if final and tail.strip() else 0
    for line in body.split(b"\n"):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            skipped += 1
            continue
        if not isinstance(obj, dict) or not _is_number(obj.get("step")):
            skipped += 1
            continue
        if b"NaN" in line:
            for k, v in obj.items():
                if isinstance(v, float) and v != v:
                    nans.setdefault(k, []).append(len(rows))
        rows.append({k: v for k, v in obj.items() if _is_number(v) or k in ("timestamp", "datetime")})
    if not rows:
        return Records(empty_table(), skipped_lines=skipped, nan_steps={})
    return _records_from_frame(pd.DataFrame(rows), skipped=skipped, nan_rows=nans)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _records_from_frame(df: pd.DataFrame, skipped: int,
                        nan_rows: dict[str, list[int]] | None = None) -> Records:
    """``nan_rows``: JSONL's rows (positions in ``df``) that wrote NaN, per key; for a CSV the
    cells reading "nan" are found here."""
    if "step" not in df.columns:
        return Records(empty_table(), skipped_lines=skipped + len(df))
    step = pd.to_numeric(df["step"], errors="coerce")
    good = step.notna().to_numpy()
    written: dict[str, np.ndarray] = {}
    for col, rows in (nan_rows or {}).items():
        mask = np.zeros(len(df), dtype=bool)
        mask[rows] = True
        written[col] = mask[good]
    df, step = df[good], step[good]
    skipped += int((~good).sum())
    out = {"step": step.astype("int64").to_numpy(), "time": _unix_time(df)}
    for col in df.columns:
        if col in _BOOKKEEPING:
            continue
        values = pd.to_numeric(df[col], errors="coerce")
        if df[col].dtype.kind not in "fiub":          # text: "nan" is a written NaN
            written[col] = (df[col].astype(str).str.strip().str.lower().isin(NAN_TEXT)
                            .to_numpy())
        if values.notna().any() or (col in written and written[col].any()):
            out[col] = values.to_numpy(dtype="float64")
    raw = pd.DataFrame(out)
    nan_steps = written_nans(out["step"], {c: m for c, m in written.items()
                                           if c in out and c not in ("step", "time")})
    total = None
    if "total_steps" in df.columns:
        totals = pd.to_numeric(df["total_steps"], errors="coerce").dropna()
        total = int(totals.iloc[-1]) if len(totals) else None
    resumes = step_resumes(raw["step"].to_numpy(), raw["time"].to_numpy())
    return Records(merge_ordered_rows(raw), None, total, skipped, len(raw), resumes,
                   nan_steps=nan_steps)


def _unix_time(df: pd.DataFrame) -> np.ndarray:
    """Seconds since the epoch from ``time`` (unix), ``wall_time``, or a ``timestamp`` text column."""
    for col in ("time", "wall_time"):
        if col in df.columns:
            t = pd.to_numeric(df[col], errors="coerce")
            if t.notna().any():
                return t.to_numpy(dtype="float64")
    for col in ("timestamp", "datetime", "date"):
        if col in df.columns:
            t = pd.to_numeric(df[col], errors="coerce")
            if t.notna().mean() > 0.9 and t.dropna().gt(1e8).all():
                return t.to_numpy(dtype="float64")
            dt = pd.to_datetime(df[col], errors="coerce", format="mixed")
            if dt.notna().any():
                if dt.dt.tz is not None:
                    dt = dt.dt.tz_convert("UTC").dt.tz_localize(None)
                secs = (dt - pd.Timestamp("1970-01-01")).dt.total_seconds()
                return secs.to_numpy(dtype="float64", na_value=math.nan)
    return np.full(len(df), np.nan)
