"""Follow growing training records: each poll reads only the bytes appended since the last one.

A RadioDiff log or a JSONL / CSV file is read from its last complete line on; a line still being
written waits for the next poll. A new file appearing in a followed directory is a resume (a new
segment); a file that shrinks or is replaced (truncation, rotation) is read again from its start.
TensorBoard event files, Lightning / W&B files are re-read whole when they change (Lightning
rewrites its CSV whenever a new key is logged).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from radiovae.errors import UserError
from radiovae.runlog import loggers
from radiovae.runlog.load import FORMATS, _read_json, _read_yaml, assemble, detect_format
from radiovae.runlog.radiodiff_log import parse_radiodiff
from radiovae.runlog.records import Records, by_column, empty_table, merge_ordered_rows
from radiovae.runlog.run import Run
from radiovae.runlog.tabular import parse_csv, parse_jsonl
from radiovae.runlog.tensorboard import parse_tensorboard


@dataclass
class _FileState:
    path: Path
    fmt: str
    offset: int = 0                  # bytes consumed (always at a line boundary)
    ident: tuple[int, int] | None = None   # (device, inode): a replaced file starts over
    header: bytes = b""              # a CSV's header line, prepended to every chunk
    records: Records = field(default_factory=lambda: Records(empty_table()))


class RunFollower:
    """``RunFollower(paths).poll() -> Run``: the run so far, reading only new bytes each time.

    ``paths`` are what ``load_run`` takes (files, directories, a radiovae run dir). Files that do
    not exist yet are waited for; directories are rescanned on every poll for new record files.
    ``new_rows`` tells how many rows the last poll added (0: nothing changed).
    """

    def __init__(self, paths: str | Path | Sequence[str | Path]):
        self.paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
        self._files: dict[Path, _FileState] = {}
        self._unknown: dict[Path, int] = {}    # files not recognized yet -> their size then
        self._run: Run | None = None
        self.new_rows = 0

    # -- discovery ---------------------------------------------------------------------------
    def _targets(self) -> tuple[list[Path], Path | None]:
        files: list[Path] = []
        run_dir = None
        for p in self.paths:
            if p.is_dir():
                if (p / "metrics.jsonl").is_file():
                    files.append(p / "metrics.jsonl")
                    run_dir = p
                    continue
                files += sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
            elif p.is_file():
                files.append(p)
        return files, run_dir

    # -- polling -----------------------------------------------------------------------------
    def poll(self) -> Run:
        """Read what was appended since the last poll and return the whole run so far."""
        files, run_dir = self._targets()
        for f in files:
            if f in self._files:
                continue
            try:
                size = f.stat().st_size
            except FileNotFoundError:
                continue
            if self._unknown.get(f) == size:
                continue                       # looked at already, unchanged
            fmt = detect_format(f, quiet=True)
            if fmt is None:                    # not records, or not yet (a log's cfg line only)
                self._unknown[f] = size
                continue
            self._unknown.pop(f, None)
            self._files[f] = _FileState(f, fmt)
        # one format per run, as load_run reads a directory (RadioDiff's log + its TB events)
        present = {s.fmt for s in self._files.values()}
        fmt = next(f for f in FORMATS if f in present) if present else None
        followed = [s for s in self._files.values() if s.fmt == fmt]
        changed = sum(self._advance(s) for s in followed)
        if self._run is not None and not changed:
            self.new_rows = 0
            return self._run
        sources = [(s.path, s.fmt, s.records) for s in followed if not s.records.table.empty]
        if not sources:
            named = ", ".join(str(p) for p in self.paths)
            raise UserError(f"{named}: no training records yet")
        before = 0 if self._run is None else len(self._run.table)
        config = _read_yaml(run_dir / "config.yaml") if run_dir else None
        evaluation = _read_json(run_dir / "evaluation.json") if run_dir else None
        self._run = assemble(sources, config, evaluation)
        self.new_rows = max(len(self._run.table) - before, changed and 1)
        return self._run

    def _advance(self, s: _FileState) -> int:
        """Read the file's new complete lines into its records; rows added (or 1 if rewritten)."""
        try:
            st = os.stat(s.path)
        except FileNotFoundError:
            return 0
        ident = (st.st_dev, st.st_ino)
        if s.ident is not None and (ident != s.ident or st.st_size < s.offset):
            s.offset, s.header, s.records = 0, b"", Records(empty_table())   # rotated / truncated
        s.ident = ident
        if st.st_size == s.offset:
            return 0
        if s.fmt == "tensorboard":
            s.records, s.offset = parse_tensorboard(s.path), st.st_size
            return 1
        if s.fmt in loggers.FILE_FORMATS:   # Lightning rewrites its CSV when a key appears
            s.records, s.offset = loggers.parse_file(s.path, s.fmt), st.st_size
            return 1
        with open(s.path, "rb") as fh:
            fh.seek(s.offset)
            data = fh.read(st.st_size - s.offset)
        end = data.rfind(b"\n") + 1
        if end == 0:
            return 0                       # only a partial line so far
        chunk = data[:end]
        s.offset += end
        if s.fmt == "radiodiff_log":
            new = parse_radiodiff(chunk, final=False)
        elif s.fmt == "jsonl":
            new = parse_jsonl(chunk, final=False)
        else:
            if not s.header:
                s.header, _, chunk = chunk.partition(b"\n")
                s.header += b"\n"
            new = parse_csv(s.header + chunk) if chunk.strip() else Records(empty_table())
        return _extend(s.records, new)


def _extend(acc: Records, new: Records) -> int:
    """Append ``new`` (read after ``acc``) to ``acc`` in place, the later rows winning."""
    acc.skipped_lines += new.skipped_lines
    acc.records += new.records
    acc.config = new.config or acc.config
    acc.total_steps = new.total_steps or acc.total_steps
    acc.resumes += new.resumes
    if acc.table.empty or acc.nan_steps is None or new.nan_steps is None:
        acc.nan_steps = new.nan_steps if acc.table.empty else None
    else:
        for k, v in new.nan_steps.items():
            acc.nan_steps[k] = np.union1d(acc.nan_steps.get(k, v[:0]), v)
    old, add = acc.table, new.table
    if add.empty:
        return 0
    if old.empty:
        acc.table = add
        return len(add)
    last, first = int(old["step"].iloc[-1]), int(add["step"].iloc[0])
    if first > last:
        acc.table = pd.concat([old, add], ignore_index=True)
    elif first == last:   # a step's generator and discriminator lines split across two polls
        joint = merge_ordered_rows(pd.concat([old.iloc[-1:], add.iloc[:1]], ignore_index=True))
        acc.table = by_column(pd.concat([old.iloc[:-1], joint, add.iloc[1:]], ignore_index=True))
    else:                 # the step went back: a resume inside this file
        t_new = add["time"].iloc[0] if "time" in add else float("nan")
        t_old = old["time"].iloc[-1] if "time" in old else float("nan")
        acc.resumes.append({"step": first, "previous_last_step": last,
                            "overlap_steps": int((old["step"] >= first).sum()),
                            "time": None if pd.isna(t_new) else float(t_new),
                            "gap_s": None if pd.isna(t_new) or pd.isna(t_old) else
                            float(t_new - t_old)})
        acc.table = by_column(merge_ordered_rows(pd.concat([old, add], ignore_index=True)))
    return len(add)
