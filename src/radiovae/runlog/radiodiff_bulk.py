"""RadioDiff's log read in bulk: the lines of the standard shape, without a dict per line.

Reading 300k of its lines one by one with a regex costs seconds, so the reader never builds a dict
per line. It checks every line's time-stamp prefix with numpy (and reads the time from its
digits), then hands the lines to a compiled scanner (``_scan.c``) that reads each line's step,
keys and values in one pass, numbers converted exactly as ``float()`` converts them, and groups
lines by their key sequence. Every line the scanner is not sure of (odd keys or value spellings,
a key twice, a cut line) goes through the plain per-line parser, and sampled rows are checked
against it, so the fast path is faster, never different.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import pandas as pd

try:
    from radiovae.runlog._scan import scan as _scan
except ImportError:           # built at install (setup.py); without a compiler: line by line
    _scan = None

MARK = b" [Train Step] "
_STAMP = b"2025-08-15 20:41:07,123"          # the shape of logging's asctime
_DIGITS = [i for i, c in enumerate(_STAMP) if chr(c).isdigit()]
_PREFIX = len(_STAMP) + len(MARK)             # a record's step starts here
_FIXED = [i for i, c in enumerate(_STAMP + MARK) if not chr(c).isdigit()]
_FIXED_BYTES = np.frombuffer(_STAMP + MARK, dtype=np.uint8)[_FIXED]
PlainParser = Callable[[bytes], "tuple[float, int, int, dict[str, float]] | None"]
FAST_MIN_LINES = 64           # fewer standard lines: the plain parser costs no more than the bulk
                              # path's set-up (a DataFrame, 32 rows checked against the plain parser)


def has_prefix(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray
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


def fast_parse(body: bytes, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray,
               times: np.ndarray, plain: PlainParser
               ) -> tuple[pd.DataFrame | None, list[int], dict[str, np.ndarray]]:
    """Parse the standard lines in bulk; return their rows, the lines left to the slow path and
    the steps whose lines wrote a term as nan.

    The compiled scanner reads each line's step, total, keys and values in one pass; a line it is
    not sure to read as the plain parser does (odd keys or spellings, a key twice, more than
    MAX_SHAPES key sequences in the log) is left to the plain parser.
    """
    if len(lines) == 0:
        return None, [], {}
    if len(lines) < FAST_MIN_LINES or _scan is None:
        if _scan is None:
            _warn_uncompiled()
        return None, list(lines), {}
    lines = np.ascontiguousarray(lines, dtype=np.int64)
    shape_b, step_b, total_b, off_b, values_b, shapes = _scan(
        body, np.ascontiguousarray(starts, dtype=np.int64),
        np.ascontiguousarray(ends, dtype=np.int64), lines, _PREFIX, MAX_SHAPES)
    shape = np.frombuffer(shape_b, dtype=np.int32)
    flat = np.frombuffer(values_b, dtype=np.float64)
    good = shape >= 0
    keep = slice(None) if good.all() else good     # the usual case: no masked copies
    kept = shape[keep]
    offset = np.frombuffer(off_b, dtype=np.int64)[keep]
    steps = np.frombuffer(step_b, dtype=np.int64)[keep]
    columns: dict[str, np.ndarray] = {}
    nans: dict[str, np.ndarray] = {}
    if len(shapes) == 1:
        rows_of = [np.arange(len(kept))]
    else:   # each shape's rows, in line order (one stable sort, not a pass per shape)
        order = np.argsort(kept, kind="stable")
        bounds = np.searchsorted(kept[order], np.arange(len(shapes) + 1))
        rows_of = [order[bounds[k]:bounds[k + 1]] for k in range(len(shapes))]
    for keys, rows in zip(shapes, rows_of, strict=True):
        for j, key in enumerate(keys):
            v = flat[offset[rows] + j]
            col = columns.get(key)
            if col is None:
                col = columns[key] = np.full(len(kept), np.nan)
            col[rows] = v
            written = np.isnan(v)        # the scanner reads NaN only from a written nan
            if written.any():
                nans[key] = np.concatenate([nans.get(key, steps[:0]), steps[rows[written]]])
    frame = pd.DataFrame({"line": lines[keep], "step": steps, "time": times[lines][keep],
                          "total_steps": np.frombuffer(total_b, dtype=np.int64)[keep],
                          **columns},
                         copy=False)       # the arrays are this function's own: no stacking copy
    if not _agrees_with_plain_parser(body, starts, ends, frame, plain):
        return None, list(lines), {}       # never happens on logs we know; if it does, be correct
    return frame, [int(i) for i in lines[~good]], {k: np.sort(v) for k, v in nans.items()}


MAX_SHAPES = 256              # key sequences read in bulk (RadioDiff's logs have two)
_warned: list[bool] = []


def _warn_uncompiled() -> None:
    if not _warned:
        _warned.append(True)
        print("radiovae: the compiled log scanner (radiovae.runlog._scan) is not built, so "
              "RadioDiff logs are read line by line (several times slower); reinstall with a C "
              "compiler present: pip install -e .", file=sys.stderr)


def _agrees_with_plain_parser(body: bytes, starts: np.ndarray, ends: np.ndarray,
                              frame: pd.DataFrame, plain: PlainParser) -> bool:
    """The fast path must agree with the plain parser: check 32 spread-out rows (cheap)."""
    if frame.empty:
        return True
    picks = np.unique(np.linspace(0, len(frame) - 1, 32).astype(int))
    rows = {c: frame[c].to_numpy()[picks] for c in frame.columns}
    for r in range(len(picks)):
        i = int(rows["line"][r])
        parsed = plain(body[starts[i]:ends[i]])
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
