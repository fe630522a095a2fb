"""Follow growing training records: each poll reads only the bytes appended since the last one.

A RadioDiff log or a JSONL / CSV file is read from its last complete line on, through the same
chunk parser as ``load_run``; a line still being written waits for the next poll. A new file
appearing in a followed directory is a resume (a new segment). Rotation loses nothing: a file
renamed away (``train.log`` -> ``train.log.1``, a new ``train.log``) is read to its end through the
handle held open, and its records stay as a segment of their own; a file truncated in place
(copytruncate) keeps the records already read. When the rotated file shows up in a followed
directory it is recognized (same inode, or same first bytes) and not read twice.
TensorBoard event files, Lightning / W&B files are re-read whole when they change (Lightning
rewrites its CSV whenever a new key is logged).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from radiovae.errors import UserError
from radiovae.runlog.chunks import CHUNK, ChunkParser, check_regular, extend_records, read_with
from radiovae.runlog.formats import Reader, by_rank
from radiovae.runlog.load import _read_json, _read_yaml, assemble, record_files, sniff
from radiovae.runlog.records import Records, empty_table
from radiovae.runlog.run import Run

_HEAD = 4096          # first bytes kept per file: a copy of a rotated file is recognized by them


@dataclass
class _FileState:
    path: Path
    reader: Reader
    offset: int = 0                  # bytes consumed (always at a line boundary)
    ident: tuple[int, int] | None = None   # (device, inode)
    head: bytes = b""
    parser: ChunkParser | None = None
    handle: BinaryIO | None = None
    label: str = ""                  # the segment's name (the path, "... (rotated)" once retired)
    records: Records = field(default_factory=lambda: Records(empty_table()))

    def __post_init__(self) -> None:
        self.parser = ChunkParser(self.reader) if self.reader.incremental else None
        self.label = self.label or str(self.path)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


class RunFollower:
    """``RunFollower(paths).poll() -> Run``: the run so far, reading only new bytes each time.

    ``paths`` are what ``load_run`` takes (files, directories, a radiovae run dir). Files that do
    not exist yet are waited for; directories are rescanned on every poll for new record files.
    ``new_rows`` tells how many rows the last poll added (0: nothing changed).
    """

    def __init__(self, paths: str | Path | Sequence[str | Path]):
        self.paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
        for p in self.paths:
            if p.exists():
                check_regular(p)             # a FIFO or a device: refused, never waited on
        self._files: dict[Path, _FileState] = {}
        self._retired: list[_FileState] = []   # rotated away / truncated: records kept
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
                files += record_files(p)
            elif p.is_file():
                files.append(p)
        return files, run_dir

    def _discover(self, files: list[Path]) -> None:
        for f in files:
            if f in self._files:
                continue
            try:
                st = os.stat(f)
            except OSError:
                continue
            if self._unknown.get(f) == st.st_size:
                continue                       # looked at already, unchanged
            reader = sniff(f, quiet=True)
            if reader is None:                 # not records, or not yet (a log's cfg line only)
                self._unknown[f] = st.st_size
                continue
            self._unknown.pop(f, None)
            self._files[f] = self._adopt(f, reader, st) or _FileState(f, reader)

    def _adopt(self, f: Path, reader: Reader, st: os.stat_result) -> _FileState | None:
        """A retired file seen again under a new name (rotation): keep reading it, not twice."""
        for old in self._retired:
            if old.reader is not reader:
                continue
            same = old.ident == (st.st_dev, st.st_ino)
            if not same and old.head and st.st_size >= old.offset:
                try:
                    with open(f, "rb") as fh:
                        same = fh.read(len(old.head)) == old.head
                except OSError:
                    same = False
            if same:
                self._retired.remove(old)
                old.close()
                old.path, old.label, old.ident = f, str(f), (st.st_dev, st.st_ino)
                return old
        return None

    # -- polling -----------------------------------------------------------------------------
    def poll(self) -> Run:
        """Read what was appended since the last poll and return the whole run so far."""
        files, run_dir = self._targets()
        # the files followed so far first: a rotation retires a file before its new name is
        # discovered (and then recognized, not read twice)
        known = [s for s in self._files.values() if s.reader is self._reader()]
        changed = sum(self._advance(s) for s in known)
        self._discover(files)
        reader = self._reader()
        followed = [s for s in self._files.values() if s.reader is reader]
        changed += sum(self._advance(s) for s in followed if s not in known)
        if self._run is not None and not changed:
            self.new_rows = 0
            return self._run
        sources = [(s.label, s.reader.format, s.records) for s in [*self._retired, *followed]
                   if s.reader is reader and not s.records.table.empty]
        if not sources:
            named = ", ".join(str(p) for p in self.paths)
            raise UserError(f"{named}: no training records yet")
        before = 0 if self._run is None else len(self._run.table)
        config = _read_yaml(run_dir / "config.yaml") if run_dir else None
        evaluation = _read_json(run_dir / "evaluation.json") if run_dir else None
        self._run = assemble(sources, config, evaluation)
        self.new_rows = max(len(self._run.table) - before, changed and 1)
        return self._run

    def _reader(self) -> Reader | None:
        """One format per run, as load_run reads a directory (RadioDiff's log + its TB events)."""
        present = {id(s.reader) for s in self._files.values()}
        return next((r for r in by_rank() if id(r) in present), None)

    def _advance(self, s: _FileState) -> int:
        """Read the file's new complete lines into its records; rows added (or 1 if rewritten)."""
        try:
            st = os.stat(s.path)
        except OSError:
            st = None                          # renamed away, the new file not there yet
        ident = None if st is None else (st.st_dev, st.st_ino)
        added = 0
        if s.ident is not None and (ident != s.ident or st.st_size < s.offset):
            added = self._retire(s, truncated=ident == s.ident)
            if st is None:
                return added or 1
        if st is None:
            return 0
        s.ident = ident
        if st.st_size == s.offset:
            return added
        if not s.reader.incremental:   # event files; Lightning rewrites its CSV when a key appears
            s.records, s.offset = read_with(s.reader, s.path), st.st_size
            return 1
        if s.handle is None:
            s.handle = open(s.path, "rb")  # noqa: SIM115 (held open: rotation must not lose it)
        return added + self._read(s, final=False)

    def _read(self, s: _FileState, final: bool) -> int:
        """Read from the held handle up to the end of what was written (complete lines)."""
        added = 0
        while True:
            s.handle.seek(s.offset)
            data = s.handle.read(CHUNK)
            end = len(data) if final else data.rfind(b"\n") + 1
            if end == 0:
                if len(data) < CHUNK:
                    return added               # only a partial line so far
                pos = s.offset + len(data)     # a line longer than a chunk: skip to its end
                while True:
                    more = s.handle.read(CHUNK)
                    if not more:
                        return added           # still being written: look again next poll
                    nl = more.find(b"\n")
                    if nl >= 0:
                        s.offset = pos + nl + 1
                        s.parser.skip_long_line(s.records)
                        break
                    pos += len(more)
                continue
            if s.offset == 0:
                s.head = data[:_HEAD]
            chunk = data[:end]
            s.offset += end
            added += extend_records(s.records, s.parser.parse(chunk, final=final))
            if len(data) < CHUNK:
                return added

    def _retire(self, s: _FileState, truncated: bool) -> int:
        """The file at ``s.path`` was rotated or truncated: finish the old one, keep its records
        as their own segment, and start the path afresh."""
        added = 0
        if not truncated and s.handle is not None and s.reader.incremental:
            added = self._read(s, final=True)   # the rotated file's last lines (if any)
        s.close()
        old = _FileState(s.path, s.reader, offset=s.offset, ident=s.ident, head=s.head,
                         label=f"{s.path} (before rotation {len(self._retired) + 1})",
                         records=s.records)
        if not old.records.table.empty:
            self._retired.append(old)
        s.offset, s.ident, s.head, s.records = 0, None, b"", Records(empty_table())
        s.parser = ChunkParser(s.reader) if s.reader.incremental else None
        return added

    def close(self) -> None:
        for s in [*self._files.values(), *self._retired]:
            s.close()

    def __del__(self) -> None:
        self.close()
