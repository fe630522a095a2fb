"""``load_run``: any training records -> one :class:`Run`. Formats are told apart by content."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from radiovae.errors import UserError
from radiovae.runlog import loggers
from radiovae.runlog.config import flatten_config
from radiovae.runlog.kind import detect_kind
from radiovae.runlog.precision import print_decimals
from radiovae.runlog.radiodiff_log import is_radiodiff_log, parse_radiodiff
from radiovae.runlog.records import Records, by_column, merge_ordered_rows
from radiovae.runlog.run import Run, Segment
from radiovae.runlog.streams import split_streams
from radiovae.runlog.tabular import parse_csv, parse_jsonl
from radiovae.runlog.tensorboard import is_event_file, parse_tensorboard

FORMATS = ("radiodiff_log", *loggers.FILE_FORMATS, "csv", "jsonl", "tensorboard")
_HEAD = 1 << 16
_WHAT = ("RadioDiff text log, CSV or JSONL with a 'step' field, TensorBoard events, or a "
         "Lightning / W&B / MLflow log")


def load_run(path_or_paths: str | Path | Sequence[str | Path]) -> Run:
    """Read training records into one :class:`Run`.

    Accepts RadioDiff text logs, CSV / JSONL with a ``step`` field, TensorBoard event files, a
    directory holding any of these (one format per directory: RadioDiff's results folder holds its
    text log and TensorBoard events of the same run; the text log is read), or a radiovae run dir
    (its metrics.jsonl, config.yaml and evaluation.json). Several sources are one run with resumes: they are ordered by their first
    timestamp (else as given) and where steps overlap the later source wins.
    Bad input raises :class:`UserError` naming the path and what is wrong with it.
    """
    paths = [path_or_paths] if isinstance(path_or_paths, (str, Path)) else list(path_or_paths)
    if not paths:
        raise UserError("no training records given")
    sources: list[tuple[Path, str, Records]] = []
    evaluation = None
    extra_config: dict[str, Any] | None = None
    for p in map(Path, paths):
        if not p.exists():
            raise UserError(f"{p}: no such file or directory")
        if p.is_dir():
            found, config, ev = read_directory(p)
            sources += found
            extra_config = config or extra_config
            evaluation = ev or evaluation
        else:
            fmt, records = read_file(p)
            sources.append((p, fmt, records))
    return assemble(sources, extra_config, evaluation)


def read_directory(d: Path) -> tuple[list[tuple[Path, str, Records]], dict | None, dict | None]:
    """A radiovae run dir (metrics.jsonl + config.yaml + evaluation.json), else every record file."""
    if (d / "metrics.jsonl").is_file():
        fmt, records = read_file(d / "metrics.jsonl")
        return [(d / "metrics.jsonl", fmt, records)], _read_yaml(d / "config.yaml"), \
            _read_json(d / "evaluation.json")
    logged = loggers.read_logger_dir(d)
    if logged is not None:
        return logged, None, None
    by_format: dict[str, list[Path]] = {}
    for f in sorted(p for p in d.rglob("*") if p.is_file() and not p.name.startswith(".")):
        fmt = detect_format(f, quiet=True)
        if fmt is not None:
            by_format.setdefault(fmt, []).append(f)
    # RadioDiff writes its text log and TensorBoard events into the same folder: the same run
    # twice. Read one format, the one that carries the config and RadioDiff's names first.
    for fmt in FORMATS:
        found = [(f, fmt, r) for f in by_format.get(fmt, []) if not (r := _parse(f, fmt)).table.empty]
        if found:
            return found, None, None
    raise UserError(f"{d}: directory holds no training records ({_WHAT})")


def read_file(path: Path) -> tuple[str, Records]:
    """Detect the format of one file by its content and read it; UserError when it holds no records."""
    fmt = detect_format(path)
    assert fmt is not None
    records = _parse(path, fmt)
    if records.table.empty:
        raise UserError(f"{path}: no training records found ({records.skipped_lines} line(s) "
                        f"read, none a record; expected a {_WHAT})")
    return fmt, records


def detect_format(path: Path, quiet: bool = False) -> str | None:
    """``radiodiff_log`` | ``csv`` | ``jsonl`` | ``tensorboard`` from the file's first bytes.

    Unrecognized input raises UserError (or returns None when ``quiet``, for directory scans).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD)
    except OSError as e:
        if quiet:
            return None
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    if is_event_file(path, head) and len(head) > 0:
        return "tensorboard"
    if not head.strip():
        if quiet:
            return None
        raise UserError(f"{path}: file is empty, no training records")
    if _looks_binary(head):
        if quiet:
            return None
        raise UserError(loggers.binary_message(path) or f"{path}: binary data, not a {_WHAT}")
    text = head.decode("utf-8", "replace")
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if is_radiodiff_log(head):
        return "radiodiff_log"
    if (fmt := loggers.detect_file(path, text, first)) is not None:
        return fmt
    if first.startswith("{") and '"step"' in text:
        return "jsonl"
    if "," in first and "step" in [c.strip().strip('"') for c in first.split(",")]:
        return "csv"
    if quiet:
        return None
    if path.suffix.lower() in (".log", ".txt", ".out"):
        return "radiodiff_log"   # maybe the [Train Step] lines start further in; the reader decides
    raise UserError(f"{path}: no training records found (expected a {_WHAT})")


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    sample = head[:4096]
    try:
        sample.decode("utf-8")
        return False
    except UnicodeDecodeError as e:
        if e.start >= len(sample) - 4:   # a multi-byte character cut by the sample's end
            return False
    bad = sum(1 for b in sample if b < 9 or 13 < b < 32 or b == 127)
    high = sum(1 for b in sample if b >= 128)
    return bad > 0 or high > len(sample) * 0.3


def _parse(path: Path, fmt: str) -> Records:
    if fmt == "tensorboard":
        try:
            return parse_tensorboard(path)
        except Exception as e:  # corrupt event file: the user's input, not our bug
            raise UserError(f"{path}: unreadable TensorBoard event file ({e})") from None
    if fmt in loggers.FILE_FORMATS:
        return loggers.parse_file(path, fmt)
    data = path.read_bytes()
    if fmt == "radiodiff_log":
        return parse_radiodiff(data)
    if fmt == "jsonl":
        return parse_jsonl(data)
    try:
        return parse_csv(data)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"{path}: unreadable CSV ({str(e).splitlines()[0]})") from None


def _read_yaml(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: unreadable YAML ({e})") from None
    return value if isinstance(value, dict) else None


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: unreadable JSON ({e})") from None
    return value if isinstance(value, dict) else None


def assemble(sources: Sequence[tuple[Path | str, str, Records]], extra_config: dict | None = None,
             evaluation: dict | None = None) -> Run:
    """Sources of one run -> a Run: order segments, let later segments win, find the resumes."""
    sources = [s for s in sources if not s[2].table.empty]
    firsts = [_first_time(r.table) for _, _, r in sources]
    if sources and all(t is not None for t in firsts):
        order = sorted(range(len(sources)), key=lambda i: firsts[i])   # stable: ties as given
        sources = [sources[i] for i in order]
    segments, resumes = [], []
    for k, (src, fmt, rec) in enumerate(sources):
        steps = rec.table["step"]
        segments.append(Segment(source=str(src), format=fmt, first_step=int(steps.iloc[0]),
                                last_step=int(steps.iloc[-1]), first_time=_first_time(rec.table),
                                records=rec.records, skipped_lines=rec.skipped_lines,
                                decimals=print_decimals(rec.table)))
        resumes += [{**r, "source": str(src)} for r in rec.resumes]
        if k:
            resumes.append(_resume_between([s[2].table for s in sources[:k]], rec.table, str(src)))
    tables = [r.table for _, _, r in sources]
    table = merge_ordered_rows(pd.concat(tables, ignore_index=True)) if len(tables) > 1 else \
        (tables[0] if tables else pd.DataFrame({"step": []}))
    table = _tidy(table)
    table, validation, epoch_means = split_streams(table)

    raw_config = extra_config
    for _, _, rec in sources:
        if rec.config:
            raw_config = rec.config        # the latest launch's cfg describes the run now
    config = flatten_config(raw_config)
    if "total_steps" not in config:
        totals = [r.total_steps for _, _, r in sources if r.total_steps]
        if totals:
            config["total_steps"] = int(totals[-1])
    return Run(table=table, segments=segments, config=config,
               nan_steps=_nan_steps(table, [r for _, _, r in sources]),
               skipped_lines=sum(r.skipped_lines for _, _, r in sources),
               evaluation=evaluation, resumes=resumes,
               kind=detect_kind([c for c in table.columns if c not in ("step", "time")], config),
               validation=validation, epoch_means=epoch_means)


def _nan_steps(table: pd.DataFrame, records: list[Records]) -> dict[str, np.ndarray] | None:
    """The steps each metric's records wrote as NaN and that stayed NaN in the merged table;
    None when a reader could not tell a written NaN from a value not written."""
    if any(r.nan_steps is None for r in records):
        return None
    step = table["step"].to_numpy()
    out: dict[str, np.ndarray] = {}
    for r in records:
        for name, steps in r.nan_steps.items():
            if name in table.columns and len(steps):
                keep = np.isin(step, steps) & np.isnan(table[name].to_numpy(dtype="float64"))
                if keep.any():
                    out[name] = np.union1d(out.get(name, step[:0]), step[keep])
    return out


FLAGS = ("skipped",)


def _tidy(table: pd.DataFrame) -> pd.DataFrame:
    """``step`` first, then ``time`` (always present, NaN when unknown), then metrics as found.
    Copies only what is out of place (a follower calls this on every poll)."""
    if "time" not in table.columns:
        table = table.assign(time=np.nan)
    # radiovae's trainer marks a skipped (non-finite) step with "skipped": 1 - a flag, not a metric;
    # the non-finite values of that row speak for themselves
    cols = ["step", "time"] + [c for c in table.columns if c not in ("step", "time", *FLAGS)]
    if list(table.columns) != cols:
        table = table[cols]
    if not isinstance(table.index, pd.RangeIndex) or table.index.start != 0:
        table = table.reset_index(drop=True)
    if table["step"].dtype != np.int64:
        table = table.astype({"step": "int64"})
    if table["time"].dtype != np.float64:
        table = table.astype({"time": "float64"})
    return by_column(table)


def _first_time(table: pd.DataFrame) -> float | None:
    if "time" not in table.columns:
        return None
    t = table["time"].to_numpy(dtype="float64")
    if len(t) and np.isfinite(t[0]):
        return float(t[0])
    t = t[np.isfinite(t)]
    return float(t[0]) if len(t) else None


def _resume_between(earlier: list[pd.DataFrame], later: pd.DataFrame, source: str) -> dict:
    first = int(later["step"].iloc[0])
    prev = pd.concat([t[["step", "time"]] for t in earlier], ignore_index=True)
    last_prev = prev.iloc[int(np.argmax(prev["time"].fillna(-np.inf).to_numpy()))] \
        if prev["time"].notna().any() else prev.iloc[-1]
    t_new = _first_time(later)
    gap = (t_new - float(last_prev["time"])) if t_new is not None and \
        np.isfinite(last_prev["time"]) else None
    return {"step": first, "previous_last_step": int(prev["step"].max()),
            "overlap_steps": int((prev["step"] >= first).sum()), "time": t_new,
            "gap_s": gap, "source": source}
