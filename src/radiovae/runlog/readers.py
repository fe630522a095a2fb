"""The built-in readers: one :class:`~radiovae.runlog.formats.Reader` per format, over the parsers
of its module, and the registry lines that make them known (in sniffing order: most specific
first; a folder's preference is each reader's ``rank``)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from radiovae.errors import UserError
from radiovae.runlog import mlflow, wandb
from radiovae.runlog.chunks import ChunkParser
from radiovae.runlog.formats import Format, Match, Probe, Reader, register
from radiovae.runlog.lightning_csv import (
    looks_like_lightning,
    parse_lightning_csv,
    read_yaml_lenient,
)
from radiovae.runlog.radiodiff_log import is_radiodiff_log, parse_radiodiff
from radiovae.runlog.records import Records, clean_times, empty_table
from radiovae.runlog.tabular import parse_csv, parse_jsonl
from radiovae.runlog.tensorboard import is_event_file, parse_tensorboard
from radiovae.runlog.tree import Tree


def first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:120] if text else type(e).__name__


def _columns(first: str) -> list[str]:
    return [c.strip().strip('"') for c in first.split(",")] if "," in first else []


class RadioDiffLog(Reader):
    """RadioDiff's ``train_vae.py`` / ``train_cond_ldm.py`` text log or console capture
    (:mod:`radiovae.runlog.radiodiff_log`): every value printed with ``{:.5f}``."""

    format = Format.RADIODIFF_LOG
    name = "RadioDiff text log"
    incremental = printed = True
    rank = 10

    def sniff(self, probe: Probe) -> Match | None:
        if is_radiodiff_log(probe.head):
            return Match.SURE
        # maybe the [Train Step] lines start further in: the reader decides
        return Match.MAYBE if probe.path.suffix.lower() in (".log", ".txt", ".out") else None

    def parse_chunk(self, parser: ChunkParser, chunk: bytes, final: bool) -> Records:
        return parse_radiodiff(chunk, final=final, cap=parser.cap, rows_before=parser.rows)


class Csv(Reader):
    """A CSV with a ``step`` column (RadioDiff's training_data_parsed.csv keeps the printed
    values: ``printed``); an export, not a file that grows while training runs."""

    format = Format.CSV
    name = "CSV with a 'step' column"
    incremental = printed = True
    live = False
    rank = 50

    def sniff(self, probe: Probe) -> Match | None:
        return Match.SURE if "step" in _columns(probe.first) else None   # whatever follows

    def parse_chunk(self, parser: ChunkParser, chunk: bytes, final: bool) -> Records:
        if not parser.header:          # the first chunk: its first line is the header
            parser.header = chunk[:chunk.find(b"\n") + 1] if b"\n" in chunk else b""
            return parse_csv(chunk, parser.cap, parser.rows) if chunk.strip() else \
                Records(empty_table())
        if not chunk.strip():
            return Records(empty_table())
        new = parse_csv(parser.header + chunk, parser.cap, parser.rows)
        for n in new.notes:            # the header prepended is line 1 of what parse_csv saw
            if n.get("line") is not None:
                n["line"] -= 1
        return new


class Jsonl(Reader):
    """One JSON object per line with a ``step`` field (radiovae's metrics.jsonl)."""

    format = Format.JSONL
    name = "JSONL with a 'step' field"
    incremental = True
    rank = 60

    def sniff(self, probe: Probe) -> Match | None:
        if probe.first.startswith("{") and '"step"' in probe.first:
            return Match.SURE              # a first line that is a JSON record
        if any(ln.startswith("{") for ln in probe.lines[:5]) and '"step"' in probe.text:
            return Match.MAYBE
        return None

    def parse_chunk(self, parser: ChunkParser, chunk: bytes, final: bool) -> Records:
        return parse_jsonl(chunk, final=final, cap=parser.cap, rows_before=parser.rows)


class TensorBoard(Reader):
    """TensorBoard event files (RadioDiff's SummaryWriter, radiovae's): re-read whole."""

    format = Format.TENSORBOARD
    name = "TensorBoard event file"
    binary = one_folder = True
    rank = 70

    def sniff(self, probe: Probe) -> Match | None:
        return Match.SURE if probe.head and is_event_file(probe.path, probe.head) else None

    def read(self, path: Path) -> Records:
        try:
            return clean_times(parse_tensorboard(path))
        except Exception as e:  # corrupt event file: the user's input, not our bug
            raise UserError(f"{path}: unreadable TensorBoard event file ({first_line(e)})") \
                from None


class _WholeFile(Reader):
    """A logger's file that is rewritten, not appended to (Lightning rewrites its CSV when a key
    appears): read whole, and again whole when it changes."""

    def read(self, path: Path) -> Records:
        try:
            return clean_times(self.parse(path))
        except (pd.errors.ParserError, ValueError, RecursionError) as e:
            raise UserError(f"{path}: unreadable {self.format.value} ({first_line(e)})") \
                from None

    def parse(self, path: Path) -> Records:
        raise NotImplementedError


class WandbHistory(_WholeFile):
    """W&B's ``wandb-history.jsonl`` (its run folder's ``config.yaml`` read beside it)."""

    format = Format.WANDB_HISTORY
    name = "a W&B run"
    rank = 30

    def sniff(self, probe: Probe) -> Match | None:
        if not probe.first.startswith("{") or probe.path.name == wandb.SUMMARY:
            return None                  # (the summary: last values, shaped like a history line)
        try:
            obj = json.loads(probe.first)
        except ValueError:
            return None
        return Match.SURE if wandb.looks_like_history_line(obj) else None

    def parse(self, path: Path) -> Records:
        config = wandb.unwrap_config(read_yaml_lenient(path.parent / wandb.CONFIG))
        return wandb.parse_history(path.read_bytes(), config)


class WandbCsv(_WholeFile):
    """A CSV exported from W&B (a run's history, or a chart's "Export CSV")."""

    format = Format.WANDB_CSV
    name = "a W&B CSV export"
    live = False
    rank = 40

    def sniff(self, probe: Probe) -> Match | None:
        return Match.SURE if wandb.looks_like_export(_columns(probe.first)) else None

    def parse(self, path: Path) -> Records:
        try:
            return wandb.parse_export(path.read_bytes())
        except UserError as e:
            raise UserError(f"{path}: {e}") from None


class LightningCsv(_WholeFile):
    """PyTorch Lightning's CSVLogger ``metrics.csv`` (``hparams.yaml`` read beside it)."""

    format = Format.LIGHTNING_CSV
    name = "a Lightning CSVLogger run"
    rank = 20

    def sniff(self, probe: Probe) -> Match | None:
        return Match.SURE if looks_like_lightning(_columns(probe.first)) else None

    def parse(self, path: Path) -> Records:
        return parse_lightning_csv(path, path.read_bytes())


class MLflow(Reader):
    """MLflow's file store: a run is a folder (``meta.yaml``, ``metrics/<key>``), never a file."""

    format = Format.MLFLOW
    name = "an MLflow run"
    plural = "MLflow runs"
    rank = 80

    def sniff(self, probe: Probe) -> Match | None:
        return None

    def runs(self, tree: Tree) -> list[Path] | None:
        return mlflow.run_dirs_in(tree)

    def read_run(self, folder: Path) -> Records:
        return mlflow.read_run(folder)


# the registry lines: sniffing order, most specific first
register(TensorBoard())
register(WandbHistory())
register(WandbCsv())
register(LightningCsv())
register(Csv())
register(Jsonl())
register(RadioDiffLog())
register(MLflow())
