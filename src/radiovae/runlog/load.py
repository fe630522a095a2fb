"""``load_run``: any training records -> one :class:`Run`. Formats are told apart by content."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radiovae.errors import UserError
from radiovae.runlog import loggers, readers  # noqa: F401 (readers: registers the built-ins)
from radiovae.runlog.budget import cap_tables
from radiovae.runlog.chunks import BOM, check_regular, read_with
from radiovae.runlog.clock import forward_time
from radiovae.runlog.config import flatten_config
from radiovae.runlog.formats import Match, Probe, Reader, by_rank, reader_for
from radiovae.runlog.formats import readers as readers_in_order
from radiovae.runlog.kind import detect_kind
from radiovae.runlog.precision import print_decimals
from radiovae.runlog.records import MAX_NOTES, Records, by_column, merge_ordered_rows
from radiovae.runlog.run import Run, Segment
from radiovae.runlog.streams import split_streams
from radiovae.runlog.tree import Tree, scan
from radiovae.safeload import load_json, load_yaml

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
    sources: list[tuple[Path, Enum, Records]] = []
    evaluation = None
    extra_config: dict[str, Any] | None = None
    for p in map(Path, paths):
        if not p.exists():
            raise UserError(f"{p}: no such file or directory")
        check_regular(p)
        if p.is_dir():
            found, config, ev = read_directory(p)
            sources += found
            extra_config = config or extra_config
            evaluation = ev or evaluation
        else:
            fmt, records = read_file(p)
            sources.append((p, fmt, records))
    return assemble(sources, extra_config, evaluation)


def read_directory(d: Path) -> tuple[list[tuple[Path, Enum, Records]], dict | None, dict | None]:
    """A radiovae run dir (metrics.jsonl + config.yaml + evaluation.json), else a logger's run,
    else every record file; only what lies inside ``d`` (:func:`tree.scan`: symbolic links out
    of it are noted, not followed). A logger's run beside other records is refused, both named:
    neither is read in place of the other."""
    tree = scan(d)
    if (d / "metrics.jsonl").is_file() and (d / "metrics.jsonl") in tree.files:
        fmt, records = read_file(d / "metrics.jsonl")
        return _with_note([(d / "metrics.jsonl", fmt, records)], tree), \
            _read_yaml(d / "config.yaml"), _read_json(d / "evaluation.json")
    logged = loggers.read_logger_dir(d, tree)
    if logged is not None:
        sources, homes = logged
        if homes != [d]:
            _alone(d, tree, homes, sources[0][1])
        return _with_note(sources, tree), None, None
    by_format: dict[Reader, list[Path]] = {}
    for f in tree.files:
        reader = sniff(f, quiet=True)
        if reader is not None:
            by_format.setdefault(reader, []).append(f)
    # RadioDiff writes its text log and TensorBoard events into the same folder: the same run
    # twice. Read one format, the one of lowest rank (the text log: config and RadioDiff's names).
    for reader in by_rank():
        files = by_format.get(reader, [])
        folders = sorted({f.parent for f in files})
        if reader.one_folder and len(folders) > 1:
            raise UserError(loggers.several(d, "runs of " + reader.name + "s", folders))
        found = [(f, reader.format, r) for f in files
             if not (r := read_with(reader, f)).table.empty]
        if found:
            return _with_note(found, tree), None, None
    outside = f" ({tree.left_out_note()})" if tree.outside else ""
    raise UserError(f"{d}: directory holds no training records ({_WHAT}){outside}")


def _alone(d: Path, tree: Tree, homes: list[Path], fmt: Enum) -> None:
    """Refuse ``d`` when record files lie outside the logger run's folders ``homes``."""
    others = []
    for f in tree.files:
        if not any(h in f.parents for h in homes) and sniff(f, quiet=True) is not None:
            others.append(f)
            if len(others) > 3:
                break
    if others:
        run = ", ".join(str(h.relative_to(d)) for h in homes[:2]) + (", …" if len(homes) > 2
                                                                       else "")
        rec = ", ".join(str(f.relative_to(d)) for f in others[:3]) + (", …" if len(others) > 3
                                                                        else "")
        raise UserError(f"{d}: holds {reader_for(fmt).name} ({run}) and other "
                        f"training records ({rec}): two runs, or one run twice; give the "
                        f"folder or file of one of them")


def _with_note(sources: list[tuple[Path, Enum, Records]], tree: Tree
               ) -> list[tuple[Path, Enum, Records]]:
    """The sources, the first one noting the symbolic links that were not followed."""
    note = tree.left_out_note()
    if note and sources:
        sources[0][2].note(None, note)
    return sources


def record_files(d: Path) -> list[Path]:
    """The regular, non-hidden files inside ``d`` (:func:`tree.scan`; FIFOs and devices are not
    records, links out of ``d`` are not followed)."""
    return scan(d).files


def read_file(path: Path) -> tuple[Enum, Records]:
    """Detect the format of one file by its content and read it; UserError when it holds no records."""
    reader = sniff(path)
    assert reader is not None
    records = read_with(reader, path)
    if records.table.empty:
        raise UserError(f"{path}: no training records found ({records.skipped_lines} line(s) "
                        f"read, none a record; expected a {_WHAT})")
    return reader.format, records


def detect_format(path: Path, quiet: bool = False) -> Enum | None:
    """The format of a file, told by its first bytes (:func:`sniff`)."""
    reader = sniff(path, quiet)
    return None if reader is None else reader.format


def sniff(path: Path, quiet: bool = False) -> Reader | None:
    """The reader of a file, from its first bytes: the first registered reader sure of it, else
    (text only) the first that finds it likely.

    Unrecognized input raises UserError (or returns None when ``quiet``, for directory scans).
    """
    try:
        check_regular(path)
        with open(path, "rb") as f:
            head = f.read(_HEAD)
        if head.startswith(BOM):
            head = head[len(BOM):]
    except UserError:
        if quiet:
            return None
        raise
    except OSError as e:
        if quiet:
            return None
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    probe = Probe(path, head)
    blank = not head.strip()
    for reader in readers_in_order():
        if (reader.binary or not blank) and _says(reader, probe) is Match.SURE:
            return reader
    if blank:
        if quiet:
            return None
        raise UserError(f"{path}: file is empty, no training records")
    if _looks_binary(head):
        if quiet:
            return None
        raise UserError(loggers.binary_message(path) or f"{path}: binary data, not a {_WHAT}")
    for reader in readers_in_order():
        if not reader.binary and _says(reader, probe) is Match.MAYBE:
            return reader
    if quiet:
        return None
    raise UserError(f"{path}: no training records found (expected a {_WHAT})")


def _says(reader: Reader, probe: Probe) -> Match | None:
    try:
        return reader.sniff(probe)
    except RecursionError:                 # a first line nested 100k deep: no format's
        return None


def _looks_binary(head: bytes) -> bool:
    """Mostly control bytes or invalid UTF-8: a binary file. A text log with a few stray bytes
    (a NUL run left by a crash, one invalid byte) is still text: its reader skips those lines."""
    sample = head[:4096]
    bad = sum(1 for b in sample if b < 9 or 13 < b < 32 or b == 127)
    if bad > len(sample) * 0.3:
        return True
    try:
        sample.decode("utf-8")
        return False
    except UnicodeDecodeError as e:
        if e.start >= len(sample) - 4:   # a multi-byte character cut by the sample's end
            return False
    high = (len(sample.decode("utf-8", "replace").encode("utf-8")) - len(sample)) // 2
    return bad + high > len(sample) * 0.3


def _read_yaml(path: Path) -> dict | None:
    if not path.is_file():
        return None
    value = load_yaml(path, "config")
    return value if isinstance(value, dict) else None


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    value = load_json(path, "evaluation file")
    return value if isinstance(value, dict) else None


def assemble(sources: Sequence[tuple[Path | str, Enum, Records]], extra_config: dict | None = None,
             evaluation: dict | None = None) -> Run:
    """Sources of one run -> a Run: order segments, let later segments win, find the resumes."""
    sources = [s for s in sources if not s[2].table.empty]
    firsts = [_first_time(r.table) for _, _, r in sources]
    if sources and all(t is not None for t in firsts):
        order = sorted(range(len(sources)), key=lambda i: firsts[i])   # stable: ties as given
        sources = [sources[i] for i in order]
    segments, resumes = [], []
    for src, fmt, rec in sources:
        steps = rec.table["step"]
        segments.append(Segment(source=str(src), format=fmt, first_step=int(steps.iloc[0]),
                                last_step=int(steps.iloc[-1]), first_time=_first_time(rec.table),
                                records=rec.records, skipped_lines=rec.skipped_lines,
                                decimals=print_decimals(rec.table)))
    resumes = _resumes(sources)
    tables, capped = cap_tables([r.table for _, _, r in sources])
    if capped:
        sources[0][2].note(None, capped)
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
    notes = [{"source": str(src), **n} for src, _, rec in sources for n in rec.notes][:MAX_NOTES]
    note_count = sum(r.note_count for _, _, r in sources)
    clock = forward_time(table).note()
    if clock:                              # the run's own note: first, never cut off
        notes = [{"source": "", "line": None, "what": clock}, *notes][:MAX_NOTES]
        note_count += 1
    ends = [(str(src), rec.end) for src, _, rec in sources if rec.end is not None]
    end = {**ends[-1][1], "source": ends[-1][0]} if ends else None
    if end is not None and isinstance(end.get("step"), (int, float)) and len(table) \
            and int(table["step"].iloc[-1]) >= end["step"]:
        end = None                         # records after the marker: a resumed run goes on
    return Run(table=table, segments=segments, config=config,
               nan_steps=_nan_steps(table, [r for _, _, r in sources]),
               skipped_lines=sum(r.skipped_lines for _, _, r in sources),
               evaluation=evaluation, resumes=resumes,
               kind=detect_kind([c for c in table.columns if c not in ("step", "time")], config),
               validation=validation, epoch_means=epoch_means, notes=notes,
               note_count=note_count, end=end)


def _resumes(sources: Sequence[tuple[Path | str, Enum, Records]]) -> list[dict]:
    """Resumes inside each source, and where each source starts after the earlier ones.

    Linear in the rows (plus a vectorized search per pair of sources): every earlier source's
    steps are counted by a binary search in one array of (source, step rank) keys, never by
    concatenating the earlier tables again for each source."""
    out: list[dict] = []
    if not sources:
        return out
    steps = [r.table["step"].to_numpy() for _, _, r in sources]
    uniq = _sorted_unique(np.concatenate(steps)) if len(steps) > 1 else steps[0][:0]
    width = len(uniq) + 1
    keys = np.concatenate([k * width + np.searchsorted(uniq, s) for k, s in enumerate(steps)])
    ends = np.cumsum([len(s) for s in steps])
    prev_max, last_time = None, None
    for k, (src, _, rec) in enumerate(sources):
        out += [{**r, "source": str(src)} for r in rec.resumes]
        first = int(steps[k][0])
        t = rec.table["time"].to_numpy(dtype="float64") if "time" in rec.table else None
        if k:
            rank = int(np.searchsorted(uniq, first))
            at = np.searchsorted(keys[:ends[k - 1]], np.arange(k) * width + rank)
            t_new = _first_time(rec.table)
            out.append({"step": first, "previous_last_step": prev_max,
                        "overlap_steps": int((ends[:k] - at).sum()), "time": t_new,
                        "gap_s": (t_new - last_time) if t_new is not None and last_time is not None
                        else None, "source": str(src)})
        prev_max = int(steps[k].max()) if prev_max is None else max(prev_max, int(steps[k].max()))
        if t is not None and np.isfinite(t).any():
            latest = float(np.nanmax(t))
            last_time = latest if last_time is None else max(last_time, latest)
    return out


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting: numpy 2.4's hash-based unique takes ~1 s on 500k int64 steps
    (measured; a sort is ~20x faster), and a watch refresh calls this on every poll."""
    a = np.sort(a, kind="stable")
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a


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
