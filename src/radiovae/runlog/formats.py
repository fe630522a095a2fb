"""The reader interface every log format implements, format identity, and the one registry.

A format is a :class:`Reader`: ``sniff`` tells by a file's content whether it is one of its
files, ``read`` turns one into :class:`Records` (the table, its notes, config, resumes), and an
``incremental`` reader also parses a growing file chunk by chunk (``parse_chunk``), so that
``load_run`` and ``RunFollower`` read the same bytes the same way; a non-incremental file is read
again whole when it changes. What a reader knows of its writer's conventions is said once, on
the reader: ``printed`` (values printed with few decimals, so a 0 may hide a small value),
``live`` (written while training runs: its modification time is the last record's).

Built-in formats are named by :class:`Format`; a format added from outside names itself with a
member of its own ``str``-valued Enum. ``register`` / ``unregister`` change the registry; the
built-in readers are registered by :mod:`radiovae.runlog.readers` (imported by ``load``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from radiovae.runlog.records import Records
    from radiovae.runlog.tree import Tree


class Format(str, Enum):
    """The built-in formats. A ``str`` Enum: JSON writes the value, and a member equals it."""

    RADIODIFF_LOG = "radiodiff_log"
    LIGHTNING_CSV = "lightning_csv"
    WANDB_HISTORY = "wandb_history"
    WANDB_CSV = "wandb_csv"
    CSV = "csv"
    JSONL = "jsonl"
    TENSORBOARD = "tensorboard"
    MLFLOW = "mlflow"

    __hash__ = str.__hash__        # Enum hashes the member's name: a set of values must match

    def __str__(self) -> str:
        return self.value


class Match(Enum):
    """How sure a sniff is. ``SURE``: the content says so. ``MAYBE``: nothing else claimed the
    file and it is not binary (a ``.log`` whose records start further in, JSON objects after a
    few other lines)."""

    SURE = 2
    MAYBE = 1


@dataclass(frozen=True)
class Probe:
    """What sniffing looks at: the file's first bytes (a UTF-8 BOM removed) and their text."""

    path: Path
    head: bytes

    @property
    def text(self) -> str:
        return self.head.decode("utf-8", "replace")

    @property
    def lines(self) -> list[str]:
        """The first non-blank lines, stripped."""
        return [ln.strip() for ln in self.text.splitlines() if ln.strip()]

    @property
    def first(self) -> str:
        lines = self.lines
        return lines[0] if lines else ""


class Reader:
    """One log format. Subclasses set ``format`` and ``name`` and implement ``sniff`` and
    ``read`` (or ``parse_chunk`` when ``incremental``)."""

    format: ClassVar[Enum]
    name: ClassVar[str] = ""          # in messages: "a RadioDiff text log"
    binary: ClassVar[bool] = False    # sniffed on raw bytes, before any text check
    incremental: ClassVar[bool] = False   # text read in chunks of complete lines
    printed: ClassVar[bool] = False   # values may be printed with few decimals
    live: ClassVar[bool] = True       # the file grows while training runs
    # a folder holding several formats is read in the one of lowest rank: RadioDiff's results
    # folder holds its text log and TensorBoard events of the same run, and the text log (with
    # the config and RadioDiff's names) is the one read
    rank: ClassVar[int] = 50
    # a run's files lie in one folder (TensorBoard: a run is a folder of event files), so files
    # of this format in several folders are several runs: refused, named
    one_folder: ClassVar[bool] = False

    def sniff(self, probe: Probe) -> Match | None:
        raise NotImplementedError

    def read(self, path: Path) -> Records:
        """The whole file's records (a whole-file reader's own; an incremental reader's file is
        read through its ``parse_chunk`` by :func:`radiovae.runlog.chunks.read_with`)."""
        raise NotImplementedError

    def parse_chunk(self, parser: Any, chunk: bytes, final: bool) -> Records:
        """Records of ``chunk`` (complete lines; when ``final`` maybe a cut last line), the
        ``parser`` (a :class:`radiovae.runlog.chunks.ChunkParser`) holding what earlier chunks left
        (its cap, its row count)."""
        raise NotImplementedError

    # a format whose run is a folder layout (MLflow's file store) finds its runs in a folder's
    # tree (``runs``; None: a format of single files) and reads one (``read_run``); several
    # runs are refused, named as ``plural``
    plural: ClassVar[str] = "runs"

    def runs(self, tree: Tree) -> list[Path] | None:
        return None

    def read_run(self, folder: Path) -> Records:
        raise NotImplementedError


_READERS: list[Reader] = []


def register(reader: Reader, before: Enum | None = None) -> None:
    """Add a format (sniffed after the ones registered earlier, or just before ``before``)."""
    if any(r.format.value == reader.format.value for r in _READERS):
        raise ValueError(f"a reader for {reader.format.value!r} is registered already")
    at = next((i for i, r in enumerate(_READERS) if before is not None and r.format == before),
              len(_READERS))
    _READERS.insert(at, reader)


def unregister(fmt: Enum) -> None:
    _READERS[:] = [r for r in _READERS if r.format.value != fmt.value]


def readers() -> Iterator[Reader]:
    """The registered readers in sniffing order."""
    return iter(list(_READERS))


def by_rank() -> list[Reader]:
    """The registered readers in folder preference (lowest rank first; ties: sniffing order)."""
    return sorted(_READERS, key=lambda r: r.rank)


def reader_for(fmt: str | Enum) -> Reader:
    """The reader of a format (its Enum member or its value)."""
    value = fmt.value if isinstance(fmt, Enum) else fmt
    for r in _READERS:
        if r.format.value == value:
            return r
    raise KeyError(f"no reader registered for {value!r}")


def identity(fmt: str | Enum) -> Enum:
    """A format's Enum member from its value (a Segment's format, a summary's)."""
    return reader_for(fmt).format


def is_printed(fmt: str | Enum) -> bool:
    """Were this format's values maybe printed with few decimals (unknown formats: no)?"""
    try:
        return reader_for(fmt).printed
    except KeyError:
        return False


def is_live(fmt: str | Enum) -> bool:
    """Does this format's file grow while training runs (unknown formats: no)?"""
    try:
        return reader_for(fmt).live
    except KeyError:
        return False
