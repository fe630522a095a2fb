"""RadioDiff's log read in bulk: the lines of the standard shape, without a dict per line.

Reading 300k of its lines one by one with a regex costs seconds, so the reader never builds a dict
per line. Lines differ only in their numbers and their keys, so it checks every line's time-stamp
prefix with numpy (and reads the time from its digits), reads every line's keys from its
*skeleton* (the line with its digits, signs and points deleted: ``train/rec_loss: , lr: , ``;
the distinct skeletons of a log are few, and each is split into keys once), rewrites the whole
buffer with one ``bytes.translate`` (key letters and punctuation deleted) into plain numbers, and
lets pandas' C parser read those as one numeric table, each line's values going to the keys its
own skeleton names. Every line that does not fit (a skeleton with odd keys or value spellings,
a number of values other than its keys', an odd token) goes through the plain per-line parser,
and sampled rows are checked against it, so the fast path is faster, never different.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from radiovae.runlog.records import valid_steps

MARK = b" [Train Step] "
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
PlainParser = Callable[[bytes], "tuple[float, int, int, dict[str, float]] | None"]
FAST_MIN_LINES = 200          # fewer standard lines: the plain parser is faster (a folder of
                              # 2,000 short segments paid the bulk parser's set-up 2,000 times)


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

    After the rewrite a line is ``date time step total v1 v2 ...``; its keys are those its
    skeleton names, and it is taken only when it holds exactly one number per key.
    """
    if len(lines) == 0:
        return None, [], {}
    if len(lines) < FAST_MIN_LINES:   # its fixed cost (~15 ms) exceeds the plain parser's here
        return None, list(lines), {}
    shape_of, shapes, specials = _line_shapes(body, starts, ends, lines)
    if not shapes:
        return None, list(lines), {}
    buf = body
    for old in specials:               # nan / inf / 1e-06 somewhere in the log: keep them readable
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
        except pd.errors.ParserError:  # a line with more values than any shape has keys
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
    for k, keys in enumerate(shapes):
        rows = (shape_of == k) & (present == 2 + len(keys))
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
    if not _agrees_with_plain_parser(body, starts, ends, frame, plain):
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


def _line_shapes(body: bytes, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray
                 ) -> tuple[np.ndarray, list[tuple[bytes, ...]], list[bytes]]:
    """Each line's shape (an index into the key sequences returned, -1: not for the fast path)
    read from its skeleton, and the value spellings (nan, inf, exponents) the lines use.

    A key keeps its letters in the skeleton and its digits, signs or points would leave a number
    of their own in the rewrite (then a line's count of values gives it away), so two lines with
    one skeleton have one key sequence; a skeleton is taken when its keys are of the letters the
    rewrite deletes and its values spelt as numbers, nan or inf.
    """
    skeletons = body.translate(None, _NUMBER_BYTES).split(b"\n")
    known: dict[bytes, int] = {}
    code_of = [known.setdefault(k, len(known)) for k in skeletons]   # (a dict: ~2x pd.factorize)
    codes = np.asarray(code_of, dtype=np.int64)[lines]
    uniq = list(known)                 # in order of first appearance
    counts = np.bincount(codes, minlength=len(uniq))
    # the most common skeletons first; a log of thousands (keys that change every line) leaves
    # all but MAX_SHAPES key sequences to the plain parser, as it leaves their lines
    taken: dict[int, tuple[tuple[bytes, ...], set[bytes]]] = {}
    chosen: set[tuple[bytes, ...]] = set()
    for u in np.argsort(-counts, kind="stable")[:MAX_SKELETONS]:
        parsed = None if counts[u] == 0 else _skeleton_keys(uniq[u])
        if parsed is None or (len(chosen) >= MAX_SHAPES and parsed[0] not in chosen):
            continue
        taken[int(u)] = parsed
        chosen.add(parsed[0])
    index: dict[tuple[bytes, ...], int] = {}      # key sequences, in order of first appearance
    specials: set[bytes] = set()
    shape_of_skeleton = np.full(len(uniq) + 1, -1, dtype=np.int64)
    for u in sorted(taken):
        keys, spellings = taken[u]
        specials |= spellings
        shape_of_skeleton[u] = index.setdefault(keys, len(index))
    shapes = list(index)
    shape_of = shape_of_skeleton[codes]
    if b"e" in specials:   # "1e06" would read as 106 once the "e" is deleted: the plain way
        at = [m.start() for m in _UNSIGNED_EXPONENT.finditer(body)]
        odd = np.isin(lines, np.searchsorted(starts, at, side="right") - 1)
        shape_of[odd] = -1
        specials = specials - {b"e"} | {b"e-", b"e+"}
    return shape_of, shapes, sorted(specials)


_NUMBER_BYTES = b"0123456789.+-"
MAX_SHAPES = 32               # key sequences read in bulk (RadioDiff's logs have two)
MAX_SKELETONS = 256           # skeletons looked at (a few per shape: nan, exponents)
_SKELETON_HEAD = b" ::, [Train Step] /: "    # the stamp and "[Train Step] <step>/<total>: "
_SPELLINGS = {b"": None, b"e": b"e", b"nan": b"nan", b"inf": b"inf", b"infinity": b"inf"}
_UNSIGNED_EXPONENT = re.compile(rb"[0-9.][eE][0-9]")


def _skeleton_keys(skeleton: bytes) -> tuple[tuple[bytes, ...], set[bytes]] | None:
    """(keys, value spellings) of a line's skeleton, or None when the fast path cannot take it."""
    if not skeleton.startswith(_SKELETON_HEAD) or not skeleton.endswith(b", "):
        return None
    keys, spellings = [], set()
    for item in skeleton[len(_SKELETON_HEAD):-2].split(b", "):
        key, sep, value = item.partition(b": ")
        spelling = _SPELLINGS.get(value.lower(), b"?")
        if not sep or spelling == b"?" or not _KEY_OK.match(key) or key in keys:
            return None
        keys.append(key)
        if spelling:
            spellings.add(spelling)
    return tuple(keys), spellings


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
