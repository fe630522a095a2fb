"""CSV and JSONL records: one row / object per logged step, with a ``step`` field."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from radiovae.runlog.budget import MAX_METRICS, MetricCap, count_keys
from radiovae.runlog.records import (
    FLOAT_INT_MAX,
    NAN_TEXT,
    STEP_MAX,
    Records,
    beyond_float,
    empty_table,
    merge_ordered_rows,
    step_problem,
    step_resumes,
    valid_steps,
    written_nans,
)

# columns that describe the row rather than measure training
_BOOKKEEPING = {"step", "time", "timestamp", "datetime", "date", "wall_time", "total_steps",
                "epoch", "iteration"}


def parse_csv(data: bytes, cap: MetricCap | None = None, rows: int = 0) -> Records:
    """A CSV with a ``step`` column (e.g. RadioDiff's training_data_parsed.csv); invalid UTF-8
    is replaced, a byte-order mark dropped, a row with more fields than the header skipped.
    ``cap``: the source's :class:`MetricCap` (``rows``: records read before this chunk); without
    one, this chunk alone is capped and the note is its own."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    df, bad = _read_csv(data, csv.QUOTE_MINIMAL)
    lines = row_lines(data, bad)
    if len(df) < len(lines):          # a stray quote joined lines: read quotes as plain text
        df, bad = _read_csv(data, csv.QUOTE_NONE)
        df.columns = [c.strip('"') for c in df.columns]
        for col in df.columns:
            if df[col].dtype == object or str(df[col].dtype).startswith("str"):
                df[col] = df[col].str.strip().str.strip('"')
        lines = row_lines(data, bad)
    acc = Records(empty_table())
    metrics = [c for c in df.columns if c not in _BOOKKEEPING]
    if cap is not None or len(metrics) > MAX_METRICS:
        own = cap is None
        cap = cap or MetricCap()
        counts = df[metrics].notna().sum().to_dict() if metrics else {}
        keep = cap.choose(counts, rows + len(df))
        if len(keep) < len(metrics):
            df = df[[c for c in df.columns if c in keep or c in _BOOKKEEPING]]
        if own and cap.note():
            acc.note(None, cap.note())
    for n in bad:
        acc.note(n, "more fields than the header, skipped")
    acc.skipped_lines += len(bad)
    if len(lines) < len(df):
        lines = np.concatenate([lines, np.full(len(df) - len(lines), 0)])
    return _records_from_frame(df, acc, lines=lines[:len(df)])


def _read_csv(data: bytes, quoting: int) -> tuple[pd.DataFrame, list[int]]:
    """The frame, and the lines skipped for having more fields than the header.

    Without quotes, such lines are found by counting commas and dropped before pandas reads
    (pandas would take a first row with extra fields as an index, not as a bad line)."""
    data, cut = _drop_long_rows(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        # only an empty cell is absent; "nan" stays text, so a written NaN can be told apart
        df = pd.read_csv(io.BytesIO(data), skipinitialspace=True, encoding="utf-8",
                         encoding_errors="replace", on_bad_lines="warn", quoting=quoting,
                         index_col=False, keep_default_na=False, na_values=[""])
    df.columns = [str(c).strip() for c in df.columns]
    return df, sorted(set(cut) | {int(n) for w in caught for n in _BAD_LINE.findall(str(w.message))})


def _drop_long_rows(data: bytes) -> tuple[bytes, list[int]]:
    """``data`` without the lines that have more commas than its header (and no quotes, which
    may hold commas: those lines are pandas' to judge); their line numbers."""
    arr = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    ends = np.append(nl, len(arr)) if not len(nl) or nl[-1] != len(arr) - 1 else nl
    commas = np.concatenate([[0], np.cumsum(arr == 44)])
    quotes = np.concatenate([[0], np.cumsum(arr == 34)])
    starts = np.concatenate([[0], ends[:-1] + 1])
    per_line = commas[np.minimum(ends, len(arr))] - commas[starts]
    quoted = quotes[np.minimum(ends, len(arr))] - quotes[starts] > 0
    nonblank = np.flatnonzero(ends > starts)
    if not len(nonblank):
        return data, []
    header = per_line[nonblank[0]]
    long = nonblank[(per_line[nonblank] > header) & ~quoted[nonblank]]
    if not len(long):
        return data, []
    keep, at = [], 0
    for i in long:
        keep.append(data[at:starts[i]])
        at = int(ends[i]) + 1
    keep.append(data[at:])
    # the line numbers stay right: a dropped line leaves an empty line (blank lines are no rows)
    return b"\n".join(keep), [int(i) + 1 for i in long]


_BAD_LINE = re.compile(r"Skipping line (\d+)")


def row_lines(data: bytes, bad: list[int]) -> np.ndarray:
    """The file line (1-based) of each row to expect: after the header, blank lines and the
    lines skipped as bad are not rows (quoted newlines are not expected in metrics)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    if not len(arr):
        return np.zeros(0, dtype=np.int64)
    ends = np.flatnonzero(arr == 10)
    if not len(ends) or ends[-1] != len(arr) - 1:
        ends = np.append(ends, len(arr))
    starts = np.concatenate([[0], ends[:-1] + 1])
    length = ends - starts
    first = arr[np.minimum(starts, len(arr) - 1)]
    blank = (length == 0) | ((length == 1) & (first == 13))
    number = np.arange(1, len(ends) + 1)
    keep = ~blank
    if len(bad):
        keep &= ~np.isin(number, bad)
    return number[keep][1:]            # the first non-blank line is the header


def parse_jsonl(data: bytes, final: bool = True, cap: MetricCap | None = None,
                rows_before: int = 0) -> Records:
    """One JSON object per line with a ``step`` key; NaN / Infinity tokens are kept.

    A last line without its newline (still being written) is skipped, and counted when ``final``.
    A line that is not a record (not JSON, nested too deep, no usable step) is skipped and noted;
    ``{"event": "end", ...}`` is the trainer's end-of-run marker, not a record.
    """
    end = data.rfind(b"\n") + 1
    body, tail = data[:end], data[end:]
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    nans: dict[str, list[int]] = {}      # key -> rows that wrote NaN (the token, not a gap)
    acc = Records(empty_table(), nan_steps={})
    if final and tail.strip():
        acc.skipped_lines += 1
        acc.note(body.count(b"\n") + 1, "an unfinished last line (no newline), skipped")
    for n, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line.decode("utf-8", "replace").lstrip("\ufeff"))
        except ValueError:
            obj = _NOT_JSON
        except RecursionError:
            obj = _TOO_DEEP
        if isinstance(obj, dict) and obj.get("event") == "end":
            acc.end = {k: v for k, v in obj.items() if k in ("step", "time", "stopped")
                       and isinstance(v, (int, float, str)) and not isinstance(v, bool)}
            continue
        step = obj.get("step") if isinstance(obj, dict) else None
        if not (isinstance(obj, dict) and _is_number(step) and _whole_step(step)):
            acc.skipped_lines += 1
            acc.note(n, "not JSON" if obj is _NOT_JSON else
                     "nested too deep" if obj is _TOO_DEEP else
                     "not an object with a step" if step is None else step_problem(step))
            continue
        if b"NaN" in line:
            for k, v in obj.items():
                if isinstance(v, float) and v != v:
                    nans.setdefault(k, []).append(len(rows))
        row = {}
        for k, v in obj.items():
            if _is_number(v):
                if isinstance(v, int) and k != "step" and abs(v) > FLOAT_INT_MAX:
                    acc.note(n, beyond_float(k, v))
                    v = math.inf if v > 0 else -math.inf
                row[k] = v
            elif k in ("timestamp", "datetime") and isinstance(v, str):
                row[k] = v
        rows.append(row)
        lines.append(n)
    if not rows:
        return acc
    own = cap is None
    cap = cap or MetricCap()
    counts = count_keys(rows, _BOOKKEEPING)
    keep = cap.choose(counts, rows_before + len(rows))   # before the dense table is built
    if len(keep) < len(counts):
        nans = {k: v for k, v in nans.items() if k in keep}
    if own and cap.note():
        acc.note(None, cap.note())
    order = [k for k in dict.fromkeys(k for r in rows for k in r)
             if k in keep or k in _BOOKKEEPING]
    frame = _frame(rows, order)
    del rows                                  # the Python objects go before the table is copied
    return _records_from_frame(frame, acc, lines=np.asarray(lines), nan_rows=nans)


def _frame(rows: list[dict[str, Any]], keys: list[str]) -> pd.DataFrame:
    """``pd.DataFrame(rows)`` for ``keys`` only, a metric column at a time straight into
    float64: no rows x keys array of Python objects (10^6 sparse rows would make it 0.4 GB)."""
    n = len(rows)
    cols: dict[str, Any] = {}
    for k in keys:
        if k in _BOOKKEEPING:                 # steps stay exact ints; timestamps stay text
            cols[k] = pd.Series([r.get(k) for r in rows], dtype=object).infer_objects()
        else:
            cols[k] = np.fromiter((r.get(k, math.nan) for r in rows), dtype=np.float64, count=n)
    return pd.DataFrame(cols)


_NOT_JSON, _TOO_DEEP = object(), object()


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _whole_step(v: int | float) -> bool:
    return bool(0 <= v <= STEP_MAX and (isinstance(v, int) or v.is_integer()))


def _records_from_frame(df: pd.DataFrame, acc: Records, lines: np.ndarray,
                        nan_rows: dict[str, list[int]] | None = None) -> Records:
    """Rows of a frame (``lines``: each row's line number) -> Records; rows without a usable step
    are skipped and noted. ``nan_rows``: JSONL's rows (positions in ``df``) that wrote NaN, per
    key; for a CSV the cells reading "nan" are found here."""
    if "step" not in df.columns:
        acc.skipped_lines += len(df)
        if len(df):
            acc.note(None, "no 'step' column")
        return acc
    step = pd.to_numeric(df["step"], errors="coerce").to_numpy(dtype="float64")
    good = valid_steps(step)
    written: dict[str, np.ndarray] = {}
    for col, rows in (nan_rows or {}).items():
        mask = np.zeros(len(df), dtype=bool)
        mask[rows] = True
        written[col] = mask[good]
    if not good.all():
        bad = np.flatnonzero(~good)
        acc.skipped_lines += len(bad)
        raw = df["step"].to_numpy()
        acc.note_rows(bad, lines, lambda i: step_problem(raw[i]))
        df, step = df[good], step[good]
    out = {"step": step.astype("int64"), "time": _unix_time(df)}
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
    acc.nan_steps = written_nans(out["step"], {c: m for c, m in written.items()
                                               if c in out and c not in ("step", "time")})
    if "total_steps" in df.columns:
        totals = pd.to_numeric(df["total_steps"], errors="coerce").to_numpy(dtype="float64")
        totals = totals[valid_steps(totals) & (totals > 0)]
        acc.total_steps = int(totals[-1]) if len(totals) else None
    acc.resumes = step_resumes(raw["step"].to_numpy(), raw["time"].to_numpy())
    acc.records = len(raw)
    acc.table = merge_ordered_rows(raw)
    return acc


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
