"""RadioDiff's text log: the one definition of its line shape, and its reader.

RadioDiff's ``train_vae.py`` logs through Python logging (``'%(asctime)-15s %(message)s'``)::

    2025-08-15 20:41:07,123 {'model': {...}, 'trainer': {...}}          <- logger.info(cfg), once
    2025-08-15 20:41:07,123 [Train Step] 35000/150000: train/total_loss: 1916.70959, ..., lr: 0.00000,
    2025-08-15 20:41:07,125 [Train Step] 35000/150000: train/disc_loss: 0.00000, ..., lr: 0.00000,

two lines per logged step (generator terms, then discriminator terms), values as ``{:.5f}``.
RadioDiff's stage-2 ``train_cond_ldm.py`` logs one line per logged step in the same shape
(``loss_simple, loss_vlb, total_loss, lr``) and its config as a multi-line ``CfgNode`` dump.

Its logger also has a console handler without a format, so a console capture
(``python train_vae.py > out.txt 2>&1``) holds the same records as bare messages, between tqdm's
progress bars: each redraw starts with ``\r``, the bar's description is the last record again
(stage 2: the record of *every* step, logged or not), and the next record is glued to the last
bar of its line; block-buffered ``print`` output lands in 8 KiB chunks anywhere between. Such a
line is read as a terminal shows it: only what follows its last ``\r``, and in that only the
last ``[Train Step]`` record that runs to the line's end (a bar's description never does).

Lines are read in bulk where they have the standard shape (:mod:`radiovae.runlog.radiodiff_bulk`);
every other line, and every line the bulk reader leaves, through the plain per-line parser
(:func:`parse_line`).
"""

from __future__ import annotations

import ast
import re
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from radiovae.errors import UserError, brief
from radiovae.runlog.budget import MetricCap, cap_parsed
from radiovae.runlog.config import looks_like_config
from radiovae.runlog.radiodiff_bulk import MARK, fast_parse, has_prefix
from radiovae.runlog.records import (
    MAX_NOTES,
    Records,
    empty_table,
    merge_ordered_rows,
    step_resumes,
)
from radiovae.safeload import loads_yaml

_TIME_FORMAT = "%Y-%m-%d %H:%M:%S,%f"


def format_radiodiff_lines(
    step: int,
    total: int,
    generator: dict[str, float],
    discriminator: dict[str, float] | None,
    when: datetime,
) -> list[str]:
    """The lines RadioDiff's trainer logs for one step (without newlines).

    ``generator`` holds the autoencoder terms (``train/total_loss`` ... ``lr``), ``discriminator``
    the discriminator terms (``train/disc_loss``, ``train/logits_real``, ``train/logits_fake``,
    ``lr``); each becomes one line, values printed as RadioDiff does (``{:.5f}``).
    """
    stamp = when.strftime("%Y-%m-%d %H:%M:%S") + f",{when.microsecond // 1000:03d}"
    lines = []
    for terms in (generator, discriminator):
        if terms is None:
            continue
        body = "".join(f"{k}: {float(v):.5f}, " for k, v in terms.items())
        lines.append(f"{stamp} [Train Step] {step}/{total}: {body}")
    return lines


# greedy ".*": the last "[Train Step]" of a line (earlier ones are a tqdm bar's description)
_LINE_RE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+)?.*\[Train Step\] (\d+)/(\d+): (.*)$")
_CONSOLE_MARK = re.compile(rb"(^|[\n\r\]])\[Train Step\] \d+/\d+: ")


def is_radiodiff_log(head: bytes) -> bool:
    """The first bytes of a RadioDiff log: a file log's stamped records, or a console capture's
    bare ones (at a line's start, or glued to a tqdm bar's ``... it/s]``)."""
    return MARK in head or _CONSOLE_MARK.search(head) is not None


def drop_redraws(data: bytes) -> bytes:
    """Each line as a terminal leaves it: what follows its last ``\r`` (tqdm redraws before it
    are overwritten); ``\r\n`` is a line end."""
    if b"\r" not in data:
        return data
    data = data.replace(b"\r\n", b"\n")
    if b"\r" not in data:
        return data
    return b"\n".join(line[line.rfind(b"\r") + 1:] if b"\r" in line else line
                      for line in data.split(b"\n"))


def parse_line(line: bytes) -> tuple[float, int, int, dict[str, float]] | None:
    """One ``[Train Step]`` line, the plain way: (unix time, step, total, terms) or None."""
    m = _LINE_RE.match(line.decode("utf-8", "replace").strip("\r\n"))
    if not m:
        return None
    terms = {}
    items = m.group(4).split(", ")
    if items and items[-1].strip() == "":
        items.pop()
    elif items:  # no trailing ", ": the line may have been cut mid-value
        return None
    for item in items:
        key, sep, value = item.partition(": ")
        if not sep or not key.strip():
            return None
        try:
            terms[key.strip()] = float(value)
        except ValueError:
            return None
    if not terms:
        return None
    try:
        when = (datetime.strptime(m.group(1), _TIME_FORMAT).replace(tzinfo=timezone.utc)
                .timestamp() if m.group(1) else float("nan"))
    except ValueError:    # month 18 and the like: the record stands, its time is unknown
        when = float("nan")
    step, total = int(m.group(2)), int(m.group(3))
    if not 0 <= step <= 2 ** 53:
        return None       # not a step (beyond 2^53): the line is skipped and noted
    return when, step, total if 0 < total <= 2 ** 53 else 0, terms


def split_complete(data: bytes) -> tuple[bytes, bytes]:
    """Split ``data`` into complete lines and the unterminated tail (a line still being written)."""
    end = data.rfind(b"\n") + 1
    return data[:end], data[end:]


def parse_radiodiff(data: bytes, final: bool = True, cap: MetricCap | None = None,
                    rows_before: int = 0) -> Records:
    """Parse RadioDiff log bytes into one row per step.

    The unterminated last line (a write in progress, or cut by a crash) is not parsed; it is
    counted as skipped when ``final`` (a follower passes False and reads it once complete).
    Skipped lines are counted and the first few noted; the trainer's end line (radiovae's
    ``[Train End]``, RadioDiff's console ``training complete``) sets ``end``.
    """
    data = drop_redraws(data)   # CRLF, and tqdm's redraws in console captures
    original = data
    body, tail = split_complete(data)
    skipped = 1 if final and tail.strip() else 0
    bad: list[int] = []                       # first skipped lines (byte offsets), for notes
    arr = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64) if len(ends) else ends
    fast, times = has_prefix(arr, starts, ends)

    # lines without the standard prefix: config dict, records printed differently, noise
    config, end = None, None
    configs: dict[bytes, dict[str, Any] | None] = {}   # each distinct cfg text parsed once
    rows: list[tuple[int, float, int, int, dict[str, float]]] = []   # (line, time, step, total, terms)
    other: list[int] = []
    for i in np.flatnonzero(~fast & (ends > starts)):
        line = body[starts[i]:ends[i]]
        if b"[Train Step]" in line:
            parsed = parse_line(line)
            if parsed is not None:
                rows.append((int(i), *parsed))
                continue
        elif END_MARK in line or line.strip() == b"training complete":
            end = _end_of(line)
            continue
        elif NOTE_MARK in line:   # radiovae's notes on its config: known text, not a bad line
            continue
        else:
            text = line[line.find(b"{"):]
            if text not in configs:
                cfg = _config_of(line)
                configs[text] = cfg if looks_like_config(cfg) else None
            if configs[text] is not None:
                config = configs[text]
                continue
        if line.strip():
            other.append(int(i))
    used = 0
    if config is None and other:
        config, used = _cfgnode_config([body[starts[i]:ends[i]] for i in other], other)
        skipped -= used
    skipped += len(other)
    for i in other:
        if len(bad) >= MAX_NOTES:
            break
        line = body[starts[i]:ends[i]].rstrip(b"\r")
        if used and (_NESTED.match(line) or _TOP_KEY.match(_STAMP_RE.sub(b"", line, count=1))):
            continue                          # a line of the config block read above
        bad.append(int(starts[i]))

    fast_lines = np.flatnonzero(fast)
    frame, slow_lines, fast_nans = fast_parse(body, starts, ends, fast_lines, times,
                                                 parse_line)
    nan_steps: dict[str, list] = {k: list(v) for k, v in fast_nans.items()}
    for i in slow_lines:
        parsed = parse_line(body[starts[i]:ends[i]])
        if parsed is None:
            skipped += 1
            if len(bad) < MAX_NOTES:
                bad.append(int(starts[i]))
        else:
            rows.append((int(i), *parsed))
    frame, rows, capped = cap_parsed(frame, rows, cap, rows_before, _FRAME_KEYS)
    if rows:
        slow = pd.DataFrame([{"line": i, "step": s, "time": t, "total_steps": n, **terms}
                             for i, t, s, n, terms in rows])
        frame = slow if frame is None else pd.concat([frame, slow], ignore_index=True)
        frame = frame.sort_values("line", kind="stable")
    if frame is None or frame.empty:
        rec = Records(empty_table(), config, None, skipped, 0, nan_steps={})
    else:
        total = int(frame["total_steps"].iloc[-1])
        raw = frame.drop(columns=["line", "total_steps"]).reset_index(drop=True)
        raw["step"] = raw["step"].astype("int64")
        resumes = step_resumes(raw["step"].to_numpy(), raw["time"].to_numpy())
        for _, _, step, _, terms in rows:           # the plain parser's records
            for key, value in terms.items():
                if value != value:
                    nan_steps.setdefault(key, []).append(step)
        written = {k: np.unique(np.asarray(v, dtype=np.int64)) for k, v in nan_steps.items()}
        rec = Records(merge_ordered_rows(raw), config, total or None, skipped, len(raw), resumes,
                      nan_steps=written)
    rec.end, rec.lines = end, len(ends)
    _note_skipped(rec, original, sorted(bad)[:MAX_NOTES], skipped, tail if final else b"")
    if capped:
        rec.note(None, capped)
    return rec


_FRAME_KEYS = ("line", "step", "time", "total_steps")   # step, time first: the table's order
NOTE_MARK = b" radiovae config note: "   # radiovae's train.log: what of the config was mapped
END_MARK = b"[Train End]"     # radiovae's last line: "<stamp> [Train End] <steps>/<total>: <why>"
_END_RE = re.compile(rb"\[Train End\] (\d+)/(\d+): (\w+)")


def _end_of(line: bytes) -> dict[str, Any]:
    m = _END_RE.search(line)
    if m is None:
        return {"stopped": "done"}
    return {"step": int(m.group(1)), "stopped": m.group(3).decode("ascii", "replace")}


_BAR_RE = re.compile(r"\d{1,3}%\|")


def _note_skipped(rec: Records, data: bytes, offsets: list[int], skipped: int,
                  tail: bytes) -> None:
    """Name the first skipped lines (line number and the start of their text)."""
    for at in offsets:
        end = data.find(b"\n", at)
        text = data[at:end if end >= 0 else len(data)].decode("utf-8", "replace").strip()
        # a tqdm bar whose description repeats a record (the record itself is read elsewhere)
        what = "a progress bar, not a record" if _BAR_RE.search(text) else "not a record"
        rec.note(data.count(b"\n", 0, at) + 1, f"{what}: {brief(text)}")
    if tail.strip() and len(rec.notes) < MAX_NOTES:
        rec.note(data.count(b"\n") + 1, "an unfinished last line (no newline), skipped")
    rec.note_count = max(rec.note_count, skipped)


def _config_of(line: bytes) -> dict[str, Any] | None:
    """RadioDiff's ``logger.info(cfg)``: a Python dict literal after the time stamp."""
    brace = line.find(b"{")
    if brace < 0 or b"}" not in line[-3:] + line[-1:] or len(line) > 1 << 20:
        return None       # (a config of over 1 MiB is not RadioDiff's: not parsed)
    try:
        value = ast.literal_eval(line[brace:].decode("utf-8", "replace").strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None
    return value if isinstance(value, dict) else None


_STAMP_RE = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ")
_TOP_KEY = re.compile(rb"^[A-Za-z_]\w*:( .*)?$")
_NESTED = re.compile(rb"^\s+\S")


def _cfgnode_config(lines: list[bytes], index: list[int]) -> tuple[dict[str, Any] | None, int]:
    """RadioDiff's stage 2 logs ``logger.info(cfg)`` of an fvcore ``CfgNode``: YAML-like lines
    (``data:`` / ``  batch_size: 66`` ...), the first one stamped. Returns (config, lines used)."""
    k = 0
    while k < len(lines):
        first = _STAMP_RE.sub(b"", lines[k].rstrip(b"\r"), count=1)
        if not _TOP_KEY.match(first):
            k += 1
            continue
        block, j = [first], k + 1
        while j < len(lines) and index[j] == index[j - 1] + 1 and (
                _NESTED.match(lines[j]) or _TOP_KEY.match(lines[j].rstrip(b"\r"))):
            block.append(lines[j].rstrip(b"\r"))
            j += 1
        if len(block) > 1:
            try:                          # bounded: a log is input, not trusted
                value = loads_yaml(b"\n".join(block).decode("utf-8", "replace"), "log")
            except UserError:
                value = None
            if isinstance(value, dict) and ({"model", "trainer"} & set(value)):
                return _plain(value), len(block)
        k = j
    return None, 0


def _plain(value: Any) -> Any:
    """str() of a CfgNode prints None as ``None`` and floats as ``5e-05``, which YAML 1.1 reads
    as strings: give them back their Python values."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        if value == "None":
            return None
        try:
            return float(value) if _FLOAT_RE.match(value) else value
        except ValueError:
            return value
    return value


_FLOAT_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


