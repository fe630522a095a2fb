"""Curve smoothing as TensorBoard does it, the one smoothing every smoothed number and curve uses.

TensorBoard's scalar dashboard smooths with a *debiased* exponential moving average: the running
average starts at 0, so each value is divided by 1 - w**k (k = finite points seen so far); without
that the first points would be pulled towards 0. Non-finite points are passed through unchanged
and do not enter the average; a constant series is returned as it is. The default weight 0.6 is
TensorBoard's default slider position.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_WEIGHT = 0.6
SMOOTH_POINTS = 1000  # groups whose means are smoothed (TensorBoard samples 1,000 points)
def group_size(records: int) -> int:
    """Records per smoothing group: the fewest that leave at most SMOOTH_POINTS groups."""
    return max(1, -(-records // SMOOTH_POINTS))


def grouped_ema(y: np.ndarray, weight: float = DEFAULT_WEIGHT) -> np.ndarray:
    """Per record, the figures' smoothed line: the debiased EMA of the means of groups of
    :func:`group_size` consecutive records (finite ones only), each record given its group's
    value. Its last value is :func:`smoothed_last` of a non-step series."""
    y = np.asarray(y, dtype="float64")
    size = group_size(len(y))
    if size == 1:
        return ema_smooth(y, weight)
    groups = -(-len(y) // size)
    fin = np.isfinite(y)
    pad = np.concatenate([np.where(fin, y, 0.0), np.zeros(groups * size - len(y))])
    cnt = np.concatenate([fin, np.zeros(groups * size - len(y), bool)])
    n = cnt.reshape(groups, size).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(n > 0, pad.reshape(groups, size).sum(axis=1) / np.maximum(n, 1), np.nan)
    return np.repeat(ema_smooth(means, weight), size)[:len(y)]


def smoothed_last(y: np.ndarray, weight: float = DEFAULT_WEIGHT) -> float:
    """The last point of the figures' smoothed line: the debiased EMA of the means of groups of
    :func:`group_size` consecutive records (NaN skipped), so a table's "smoothed" value is the
    value the figure's thick line ends at. A step-like series is its last finite value."""
    y = np.asarray(y, dtype="float64")
    fin = np.isfinite(y)
    if not fin.any():
        return math.nan
    if is_steplike(y):
        return float(y[fin][-1])
    size = group_size(len(y))
    if size == 1:
        return ema_last(y[fin], weight)
    groups = -(-len(y) // size)
    # the EMA's last value from its last groups alone: what came before weighs w**k < 2**-60,
    # below a float's resolution (1 - w**k is exactly 1.0), so the same number without a pass
    # over the whole run (every metric of a 1M-line log, at every watch refresh)
    tail = min(groups, 1 if weight == 0.0 else int(math.ceil(-60 * math.log(2.0) /
                                                               math.log(weight))) + 1)
    for first in ((groups - tail) * size, 0):
        seg, ok = y[first:], fin[first:]
        k = -(-len(seg) // size)
        pad = np.zeros(k * size)
        pad[:len(seg)] = np.where(ok, seg, 0.0)
        cnt = np.zeros(k * size, dtype=bool)
        cnt[:len(seg)] = ok
        sums = pad.reshape(k, size).sum(axis=1)
        n = cnt.reshape(k, size).sum(axis=1)
        means = sums[n > 0] / n[n > 0]
        if first == 0 or len(means) >= tail:   # empty groups in the tail: take them all
            return ema_last(means, weight)
    return math.nan


def ema_smooth(y: np.ndarray, weight: float = DEFAULT_WEIGHT) -> np.ndarray:
    """TensorBoard's debiased EMA of ``y`` (float array); ``weight`` in [0, 1)."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    y = np.asarray(y, dtype="float64")
    out = y.copy()
    finite = np.isfinite(y)
    v = y[finite]
    if weight == 0.0 or v.size == 0 or np.all(v == v[0]):
        return out
    acc = _ema(v, weight)
    # 1 - w**k is exactly 1.0 in float64 once w**k < 2**-60, so only the first terms need the
    # debiasing division (~82 at w = 0.6): a float power over every record cost more than the EMA
    m = min(v.size, int(np.ceil(-60 * np.log(2.0) / np.log(weight))) + 1)
    k = np.arange(1, m + 1, dtype="float64")
    acc[:m] /= 1.0 - weight ** k
    out[finite] = acc
    return out


def ema_last(v: np.ndarray, weight: float = DEFAULT_WEIGHT) -> float:
    """``ema_smooth(v, weight)[-1]`` for finite ``v``, from its last k points only: what came
    before weighs w**k < e**-700 (below any float), so the tail gives the same number without an
    EMA over the whole series (a watch refresh asks this of every metric of a 1M-line log)."""
    if len(v) == 0:
        return math.nan
    k = len(v) if weight == 0.0 else int(math.ceil(-700.0 / math.log(weight)))
    return float(ema_smooth(v[-k:], weight)[-1])


def _ema(v: np.ndarray, w: float) -> np.ndarray:
    """acc[j] = w·acc[j-1] + (1-w)·v[j], acc[-1] = 0, vectorised (numpy only: scipy.signal's
    lfilter costs a second of import time in every ``radiovae report``).

    Within a block of B points, acc = w^j · cumsum(v_i · w^-i) · (1-w) + w^(j+1) · carry, with B
    small enough that w^-B stays far from overflow (<= 1e150); the carries chain the blocks."""
    n = v.size
    block = max(1, min(n, int(150 / -math.log10(w))))
    blocks = -(-n // block)
    padded = np.zeros(blocks * block)
    padded[:n] = v
    j = np.arange(block, dtype="float64")
    up = w ** -j                                   # w^-i
    down = w ** j                                  # w^j
    inner = (1.0 - w) * np.cumsum(padded.reshape(blocks, block) * up, axis=1) * down
    carry = np.empty(blocks)                       # acc at the end of each block
    last, w_block = 0.0, w ** block
    ends = inner[:, -1]
    for b in range(blocks):
        last = w_block * last + ends[b]
        carry[b] = last
    before = np.concatenate([[0.0], carry[:-1]])   # acc just before each block
    acc = inner + before[:, None] * (w * down)[None, :]
    return acc.reshape(-1)[:n]


STEP_LEVELS = 8      # a series with at most this many distinct values is a schedule or a switch


def is_steplike(y: np.ndarray) -> bool:
    """True for a series that takes a few values and holds each for a while (disc_factor 0 → 1;
    an lr printed at 5 decimals: 5e-05, 4e-05, ...): at most STEP_LEVELS distinct finite values,
    and a change of value at most every 4th record (a quantized noisy loss that flips between two
    printed levels is noise, not steps: it stays smoothed). Such a series is drawn as steps,
    never smoothed: an EMA would turn its jumps into ramps (a 2,000-step ramp of disc_factor) and
    its levels into values it never took. The one rule the figures, charts and tables share."""
    v = np.asarray(y, dtype="float64")
    # more than STEP_LEVELS values among 512 evenly spaced records: not step-like, whatever the
    # rest holds (a loss is rejected here without a pass over a 500k-record run)
    probe = v[::max(1, v.size // 512)]
    if np.unique(probe[np.isfinite(probe)]).size > STEP_LEVELS:
        return False
    v = v[np.isfinite(v)]
    if v.size < 2:
        return False
    at = np.flatnonzero(v[1:] != v[:-1])                  # O(n): rejects a noisy loss at once
    return 4 * len(at) <= v.size and levels(v, at).size <= STEP_LEVELS


def levels(v: np.ndarray, changes: np.ndarray | None = None) -> np.ndarray:
    """The distinct values of finite ``v``, sorted: those it takes where it changes (no sort of
    the whole series: a step-like one changes a handful of times in 500k records)."""
    if changes is None:
        changes = np.flatnonzero(v[1:] != v[:-1])
    return np.unique(v[np.concatenate([[0], changes + 1])]) if len(v) else v
