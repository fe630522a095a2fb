"""RadioDiff's text log: the one definition of its line shape, and a fast reader for it.

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

Reading 300k such lines one by one with a regex costs seconds, so the reader never builds a dict
per line. Lines of one *shape* (the same keys in the same order) differ only in their numbers, so
it learns the shapes (and their key names) from a sample of lines, checks every line's time-stamp
prefix with numpy (and reads the time from its digits), rewrites the whole buffer with one
``bytes.translate`` (key letters and punctuation deleted) into plain numbers, and lets pandas' C
parser read those as one numeric table; a line's shape is told by its number of values. Every
line that does not fit (another shape, a cut line, an odd token) goes through the plain per-line
parser, and sampled rows are checked against it, so the fast path is faster, never different.
"""

from __future__ import annotations

import ast
import io
import re
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from radiovae.errors import UserError, brief
from radiovae.runlog.budget import MetricCap, cap_parsed
from radiovae.runlog.config import looks_like_config
from radiovae.runlog.records import (
    MAX_NOTES,
    Records,
    empty_table,
    merge_ordered_rows,
    step_resumes,
    valid_steps,
)
from radiovae.safeload import loads_yaml

MARK = b" [Train Step] "
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S,%f"
_STAMP = b"2025-08-15 20:41:07,123"          # the shape of logging's asctime
_DIGITS = [i for i, c in enumerate(_STAMP) if chr(c).isdigit()]
_PREFIX = len(_STAMP) + len(MARK)             # a record's step starts here
_FIXED = [i for i, c in enumerate(_STAMP + MARK) if not chr(c).isdigit()]
_FIXED_BYTES = np.frombuffer(_STAMP + MARK, dtype=np.uint8)[_FIXED]
# bytes.translate: "/" -> blank; key letters and ":,[]" deleted (the blanks after them stay, so
# values stay apart; E, N, A, I, F survive: they spell 1E-06, NAN, INF once upper-cased)
_BLANKS = bytes.maketrans(b"/", b" ")
_DELETE = bytes(set(range(ord("a"), ord("z") + 1)) | set(b"BCDGHJKLMOPQRSTUVWXYZ_:,[]"))
_KEY_OK = re.compile(rb"^[a-z_/BCDGHJKLMOPQRSTUVWXYZ]+$")


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
    fast, times = _has_prefix(arr, starts, ends)

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
    frame, slow_lines, fast_nans = _fast_parse(body, starts, ends, fast_lines, times)
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
FAST_MIN_LINES = 200          # fewer standard lines: the plain parser is faster (a folder of
                              # 2,000 short segments paid the bulk parser's set-up 2,000 times)
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


def _has_prefix(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Lines that start ``YYYY-MM-DD HH:MM:SS,mmm [Train Step] `` and end with RadioDiff's ``, ``,
    and the unix time of each line (NaN elsewhere), read from the stamp's digits."""
    n = len(starts)
    ok = (ends - starts) > _PREFIX + 4
    idx = np.flatnonzero(ok)
    # (lines, prefix) bytes: rows of a sliding-window view, so no (lines x prefix) index array
    head = np.lib.stride_tricks.sliding_window_view(arr, _PREFIX)[starts[idx]] if len(idx) else \
        np.zeros((0, _PREFIX), dtype=np.uint8)
    good = (head[:, _FIXED] == _FIXED_BYTES).all(axis=1)
    digits = head[:, _DIGITS] - np.uint8(48)       # uint8: a non-digit wraps to >= 10
    good &= (digits <= 9).all(axis=1)
    good &= (arr[ends[idx] - 1] == 32) & (arr[ends[idx] - 2] == 44)
    ok[idx] = good

    def number(*cols: int) -> np.ndarray:
        out = np.zeros(len(idx), dtype=np.int64)
        for c in cols:
            out = out * 10 + digits[:, _DIGITS.index(c)]
        return out

    ymd = number(0, 1, 2, 3, 5, 6, 8, 9)
    codes, uniq = pd.factorize(np.where(good, ymd, 19700101))     # a log spans a few days
    day_s, day_ok = _day_seconds(uniq // 10000, uniq // 100 % 100, uniq % 100)
    hh, mi, ss = number(11, 12), number(14, 15), number(17, 18)
    secs = day_s[codes] + hh * 3600 + mi * 60 + ss + number(20, 21, 22) / 1000
    # a stamp strptime refuses (month 13, 20:99): left to the plain parser, as it reads it
    ok[idx] &= day_ok[codes] & (hh <= 23) & (mi <= 59) & (ss <= 59)
    times = np.full(n, np.nan)
    times[idx] = secs
    return ok, times


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _day_seconds(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unix seconds of UTC midnights given by year, month, day, and which of them ``datetime``
    accepts (days from the civil date by integer arithmetic, H. Hinnant's: no pandas round trip,
    no 1677-2262 limit)."""
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    mc = np.clip(m, 0, 12)
    valid = (y >= 1) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= _MONTH_DAYS[mc] + ((mc == 2) & leap))
    y = y - (m <= 2)                               # the year counted from March
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return (days * 86400).astype(np.float64), valid


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


def _fast_parse(body: bytes, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray,
                times: np.ndarray
                ) -> tuple[pd.DataFrame | None, list[int], dict[str, np.ndarray]]:
    """Parse the standard lines in bulk; return their rows, the lines left to the slow path and
    the steps whose lines wrote a term as nan.

    After the rewrite a line is ``date time step total v1 v2 ...``; its shape is told by its
    number of values (the shapes learnt from the sample must differ in length).
    """
    if len(lines) == 0:
        return None, [], {}
    if len(lines) < FAST_MIN_LINES:   # its fixed cost (~15 ms) exceeds the plain parser's here
        return None, list(lines), {}
    shapes, specials = _learn_shapes(body, starts, ends, lines)
    if shapes is None:
        return None, list(lines), {}
    buf = body
    for old in specials:               # nan / inf / 1e-06 seen in the sample: keep them readable
        buf = buf.replace(old, old.upper())
    buf = buf.translate(_BLANKS, _DELETE)
    width = 2 + max(len(k) for k in shapes)
    stamp = 2                          # "2025-08-15 204107123": read already, not parsed again
    skip = np.ones(len(starts), dtype=bool)
    skip[lines] = False
    read = {"sep": r"\s+", "header": None, "names": list(range(width + stamp)),
            "usecols": list(range(stamp, width + stamp)), "skiprows": np.flatnonzero(skip),
            "engine": "c", "quoting": 3, "keep_default_na": False, "na_values": [""],
            "encoding_errors": "replace"}
    df = exact = None
    if b"nan" not in specials:         # all numbers: no type inference (much faster)
        try:
            df = exact = pd.read_csv(io.BytesIO(buf), dtype=np.float64, **read)
        except (ValueError, pd.errors.ParserError):
            df = None                  # a stray token somewhere: let pandas infer, rows fail
    if df is None:
        try:
            df = pd.read_csv(io.BytesIO(buf), **read)
        except pd.errors.ParserError:  # a line with more values than any sampled shape
            return None, list(lines), {}
    del buf
    if len(df) != len(lines):
        return None, list(lines), {}
    num = [_numeric(df[c + stamp]) for c in range(width)]
    texts = any(t.any() for _, t in num)       # a value written as the literal NAN somewhere
    seen = [~np.isnan(v) | t if texts else ~np.isnan(v) for v, t in num]
    present = np.sum(seen, axis=0, dtype=np.int64)
    # all numbers read as floats: a line's values fill its first columns, no holes, so its
    # count of values alone tells its shape; else (inferred types) check each value in place
    holes = exact is None or texts
    good = np.zeros(len(df), dtype=bool)
    values: dict[str, np.ndarray] = {}
    written: dict[str, np.ndarray] = {}
    for keys in shapes:
        rows = present == 2 + len(keys)
        if holes:
            for j in range(len(keys)):  # values in place (a "5-06" or stray token fails here)
                rows &= seen[2 + j]
        good |= rows
        for j, key in enumerate(keys):
            name, v = key.decode(), num[2 + j][0]
            values[name] = np.where(rows, v, values.get(name, np.nan))
            if texts:                  # only a literal NAN is a written NaN
                w = written.setdefault(name, np.zeros(len(df), dtype=bool))
                w |= rows & num[2 + j][1]
    good &= valid_steps(num[0][0])           # step (0 ... 2^53); a bad total means "unknown"
    totals = num[1][0]
    totals = np.where(valid_steps(totals) & (totals > 0), totals, 0)
    secs = times[lines]
    keep = slice(None) if good.all() else good     # the usual case: no masked copies
    frame = pd.DataFrame({"line": lines[keep], "step": num[0][0][keep].astype(np.int64),
                          "time": secs[keep],
                          "total_steps": totals[keep].astype(np.int64),
                          **{k: v[keep] for k, v in values.items()}},
                         copy=False)       # the arrays are this function's own: no stacking copy
    if not _agrees_with_plain_parser(body, starts, ends, frame):
        return None, list(lines), {}       # never happens on logs we know; if it does, be correct
    # a NaN where the line's shape has the key was written so; a key the shape lacks is absent
    steps = num[0][0][keep].astype(np.int64)
    nans = {k: steps[m[keep]] for k, m in written.items() if m[keep].any()}
    return frame, [int(i) for i in lines[~good]], nans


def _numeric(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float values, "was the literal NAN") for one parsed column."""
    if col.dtype.kind in "fi":
        v = col.to_numpy(dtype="float64")
        return v, np.zeros(len(v), dtype=bool)
    text = col.astype(str).str.strip()
    is_nan = text.isin(["NAN", "-NAN", "+NAN"]).to_numpy()
    v = pd.to_numeric(text.where(~is_nan, "nan"), errors="coerce").to_numpy(dtype="float64",
                                                                          copy=True)
    v[col.isna().to_numpy()] = np.nan
    return v, is_nan


def _learn_shapes(body: bytes, starts: np.ndarray, ends: np.ndarray,
                  lines: np.ndarray) -> tuple[list[tuple[bytes, ...]] | None, list[bytes]]:
    """The key sequences of a sample of lines, if the fast path can take them, and which value
    spellings (nan, inf, exponents) the sample shows."""
    pick = np.unique(np.concatenate([lines[:64], lines[-64:],
                                     lines[np.linspace(0, len(lines) - 1, 64).astype(int)]]))
    shapes: list[tuple[bytes, ...]] = []
    specials: set[bytes] = set()
    for i in pick:
        line = body[starts[i] + _PREFIX:ends[i]]
        head, _, rest = line.partition(b": ")
        step, _, total = head.partition(b"/")
        if not (step.isdigit() and total.isdigit()):
            continue
        items = [item.partition(b": ") for item in rest.split(b", ") if item.strip()]
        keys = tuple(k for k, _, _ in items)
        for _, _, value in items:
            specials.update(s for s in (b"nan", b"inf", b"e-", b"e+") if s in value)
        if keys and keys not in shapes:
            shapes.append(keys)
    lengths = [len(k) for k in shapes]
    if not shapes or len(set(lengths)) != len(lengths):
        return None, []
    for keys in shapes:
        if len(set(keys)) != len(keys) or not all(_KEY_OK.match(k) for k in keys):
            return None, []
    return shapes, sorted(specials)


def _agrees_with_plain_parser(body: bytes, starts: np.ndarray, ends: np.ndarray,
                              frame: pd.DataFrame) -> bool:
    """The fast path must agree with the plain parser: check 32 spread-out rows (cheap)."""
    if frame.empty:
        return True
    picks = np.unique(np.linspace(0, len(frame) - 1, 32).astype(int))
    rows = {c: frame[c].to_numpy()[picks] for c in frame.columns}
    for r in range(len(picks)):
        i = int(rows["line"][r])
        parsed = parse_line(body[starts[i]:ends[i]])
        if parsed is None:
            return False
        when, step, _total, terms = parsed
        if step != rows["step"][r] or abs(when - rows["time"][r]) > 1e-3:
            return False
        for key, value in terms.items():
            got = rows[key][r] if key in rows else np.nan
            if not ((np.isnan(value) and np.isnan(got)) or value == got):
                return False
    return True
