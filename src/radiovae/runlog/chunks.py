"""Text record files read in bounded memory: complete-line chunks through one parser per format.

``load_run`` reads a whole file this way and ``RunFollower`` feeds the bytes appended since its
last poll, so both read the same bytes the same way. Memory stays near one chunk plus the table,
whatever the file's size: a line longer than a chunk is skipped (and noted), never held whole.
A UTF-8 byte-order mark at the start of a file is dropped; invalid UTF-8 is replaced, never fatal.
Only regular files are read: a FIFO or a device would block or never end.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from radiovae.errors import UserError
from radiovae.runlog.budget import MetricCap, check_cells
from radiovae.runlog.formats import Reader, reader_for
from radiovae.runlog.records import (
    MAX_NOTES,
    Records,
    by_column,
    clean_times,
    empty_table,
    merge_ordered_rows,
)

CHUNK = 32 << 20          # bytes per read; also the longest line that is read
BOM = b"\xef\xbb\xbf"


def check_regular(path: Path) -> os.stat_result:
    """The file's stat if it is a regular file; UserError for FIFOs, devices, sockets."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise UserError(f"{path}: {kind}, not a file of training records (copy it to a file "
                        f"first)")
    return st


class ChunkParser:
    """Parse one text record file's bytes in order, a chunk of complete lines at a time, through
    its format's reader (``Reader.parse_chunk``)."""

    def __init__(self, reader: Reader | str | Enum):
        self.reader = reader if isinstance(reader, Reader) else reader_for(reader)
        if not self.reader.incremental:
            raise ValueError(f"{self.reader.format.value} is not read in chunks")
        self.header = b""           # a CSV's header line, prepended to every later chunk
        self.lines = 0              # lines consumed so far (notes name file line numbers)
        self.started = False
        self.cap = MetricCap()      # the metrics this source keeps (budget.py)
        self.rows = 0               # records parsed so far

    def parse(self, chunk: bytes, final: bool = False) -> Records:
        """``chunk``: complete lines (and, when ``final``, maybe an unterminated last line)."""
        if not self.started:
            self.started = True
            if chunk.startswith(BOM):
                chunk = chunk[len(BOM):]
        shift = self.lines
        new = self.reader.parse_chunk(self, chunk, final)
        self.lines += new.lines if new.lines is not None else chunk.count(b"\n")
        self.rows += new.records
        for n in new.notes:
            if n.get("line") is not None:
                n["line"] += shift
        return clean_times(new)

    def skip_long_line(self, acc: Records, size: int = CHUNK) -> None:
        self.lines += 1
        acc.skipped_lines += 1
        acc.note(self.lines, f"a line longer than {_size(size)}, skipped")


def read_with(reader: Reader, path: Path) -> Records:
    """A whole file's records by its reader: in bounded chunks through ``parse_chunk`` for an
    incremental reader, else the reader's own ``read``."""
    return read_records(path, reader) if reader.incremental else reader.read(path)


def read_records(path: Path, fmt: Reader | str | Enum, chunk_size: int = CHUNK) -> Records:
    """Every record of a text record file (RadioDiff log, CSV, JSONL), read chunk by chunk."""
    parser = ChunkParser(fmt)
    acc = Records(empty_table())
    for piece, final in _chunks(path, chunk_size, parser, acc):
        extend_records(acc, parser.parse(piece, final=final))
        check_cells(str(path), len(acc.table), acc.table.shape[1] - 2)
    if parser.cap.note():
        acc.note(None, parser.cap.note())
    return acc


def _chunks(path: Path, size: int, parser: ChunkParser, acc: Records
            ) -> Iterator[tuple[bytes, bool]]:
    """Complete-line chunks of ``path`` (the last one may end without a newline). Each read
    starts at a line's start (the file is sought back to the end of the last complete line), so
    no chunk is glued to the rest of the one before: one copy of the file's bytes, not three."""
    with open(path, "rb") as fh:
        while True:
            start = fh.tell()
            data = fh.read(size)
            if len(data) < size:               # the file's last piece (maybe a cut last line)
                if data:
                    yield data, True
                return
            end = data.rfind(b"\n") + 1
            if end == 0:                       # no newline in a whole chunk: skip that line
                parser.skip_long_line(acc, size)
                if not _past_line_end(fh, size):
                    return
                continue
            if end < len(data):
                fh.seek(start + end)
                data = data[:end]
            yield data, False


def _past_line_end(fh: BinaryIO, size: int) -> bool:
    """Move ``fh`` past the end of the line it is in; False when the file ends first."""
    while True:
        more = fh.read(size)
        if not more:
            return False
        nl = more.find(b"\n")
        if nl >= 0:
            fh.seek(fh.tell() - len(more) + nl + 1)
            return True


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n:,} bytes"


def extend_records(acc: Records, new: Records) -> int:
    """Append ``new`` (read after ``acc``) to ``acc`` in place, the later rows winning; rows added.

    A step that goes back at the boundary is a resume inside the file, as within one read."""
    acc.skipped_lines += new.skipped_lines
    acc.records += new.records
    acc.config = new.config or acc.config
    acc.total_steps = new.total_steps or acc.total_steps
    acc.end = new.end or acc.end
    acc.resumes += new.resumes
    if acc.table.empty or acc.nan_steps is None or new.nan_steps is None:
        acc.nan_steps = new.nan_steps if acc.table.empty else None
    else:
        for k, v in new.nan_steps.items():
            acc.nan_steps[k] = np.union1d(acc.nan_steps.get(k, v[:0]), v)
    acc.notes += new.notes[:max(0, MAX_NOTES - len(acc.notes))]
    acc.note_count += new.note_count
    old, add = acc.table, new.table
    if add.empty:
        return 0
    if old.empty:
        acc.table = add
        return len(add)
    last, first = int(old["step"].iloc[-1]), int(add["step"].iloc[0])
    if first > last:
        acc.table = pd.concat([old, add], ignore_index=True)
    elif first == last:   # a step's generator and discriminator lines split across two reads
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
