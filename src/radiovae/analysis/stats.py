"""Per-metric numbers: level, change, robust trend, stability."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from radiovae.analysis.smoothing import DEFAULT_WEIGHT as SMOOTHING_WEIGHT
from radiovae.analysis.smoothing import is_steplike, levels, smoothed_last

if TYPE_CHECKING:
    from radiovae.analysis.schema import MetricStats

# fewer records than this in the part of a run being judged cannot tell a trend from noise: the
# Mann-Kendall test on so few noisy points rarely reaches significance, and a window median of
# a tenth of them is one or two records (the run is then judged ``too_short``)
MIN_RECORDS = 20
# a tail whose Theil-Sen change is under this share of its level has levelled off, even where
# thousands of records make so small a drift significant (the real run's KL: +1.5 % in 32k steps)
LEVEL_SHARE = 0.02


def block_medians(x: np.ndarray, y: np.ndarray, blocks: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Downsample to at most ``blocks`` points by block medians: robust smoothing for trend tests.

    Every point is in a block: the first ``n % blocks`` blocks hold one point more than the
    rest (a tail of 194 records is 100 blocks of 1-2 records, never its last 100 alone). A block
    of more than 256 points is sampled evenly for its median (plenty, and much cheaper)."""
    n = len(y)
    if n <= blocks:
        return x, y
    k, r = divmod(n, blocks)
    step = max(1, k // 256)
    out_x, out_y = np.empty(blocks), np.empty(blocks)
    # the first r blocks hold k + 1 points, the rest k: two reshapes, no Python loop per point
    for lo, hi, size, at in ((0, r * (k + 1), k + 1, 0), (r * (k + 1), n, k, r)):
        m = (hi - lo) // size
        if m == 0:
            continue
        cols = y[lo:hi].reshape(m, size)[:, ::step]
        out_y[at:at + m] = np.median(cols, axis=1)
        out_x[at:at + m] = x[lo + size // 2:hi:size][:m]     # x is ordered: each block's middle
    return out_x, out_y


def mann_kendall(y: np.ndarray) -> tuple[float, float]:
    """Mann-Kendall test of a series in time order: (Kendall's tau, two-sided p, normal approx.
    with the tie correction). O(n^2): meant for the <= 100 block medians."""
    n = len(y)
    diff = np.sign(y[None, :] - y[:, None])[np.triu_indices(n, 1)]
    s = float(diff.sum())
    _, ties = np.unique(y, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - float((ties * (ties - 1) * (2 * ties + 5)).sum())) / 18
    if var <= 0:
        return 0.0, 1.0
    z = (s - np.sign(s)) / math.sqrt(var)
    return s / (n * (n - 1) / 2), math.erfc(abs(z) / math.sqrt(2))


def theil_sen(x: np.ndarray, y: np.ndarray) -> float:
    """Median of the pairwise slopes: a slope that a few outliers cannot move."""
    i, j = np.triu_indices(len(x), 1)
    dx = x[j] - x[i]
    ok = dx != 0
    return float(np.median((y[j] - y[i])[ok] / dx[ok])) if ok.any() else 0.0


def direction(x: np.ndarray, y: np.ndarray, alpha: float = 0.01, min_change: float = 0.05
              ) -> tuple[str, dict[str, Any]]:
    """Mann-Kendall + Theil-Sen slope on block medians.

    ``increasing`` / ``decreasing`` needs a significant monotone trend whose Theil-Sen change over
    the span is at least ``min_change`` of the series' typical size; otherwise ``flat``.
    """
    ok = np.isfinite(y)
    if not ok.all():
        x, y = x[ok], y[ok]
    if len(y) < 8 or np.ptp(y) == 0:
        return "flat", {"tau": None, "p": None, "theil_sen_change": 0.0 if len(y) else None}
    xs, ys = block_medians(x, y)
    xs, ys = xs.astype(float), ys.astype(float)
    tau, p = mann_kendall(ys)
    change = theil_sen(xs, ys) * float(xs[-1] - xs[0])
    q75, q25 = np.percentile(ys, [75, 25])
    scale = max(abs(float(np.median(ys))), float(q75 - q25), 1e-12)
    info = {"tau": _f(tau), "p": _f(p), "theil_sen_change": change}
    if p < alpha and abs(change) >= min_change * scale:
        return ("increasing" if change > 0 else "decreasing"), info
    return "flat", info


def trend(x: np.ndarray, y: np.ndarray) -> tuple[str, dict[str, Any]]:
    """decreasing | increasing | flat | mixed (the halves move significantly in opposite ways).

    A directional trend whose last part is flat also says since when: ``info["levelled_since"]``
    is the first step of the longest flat tail (at least a fifth of the span), else None. A
    loss that fell early and then stopped moving is "decreasing, level since step X", never
    plain "decreasing" beside medians that have not moved for half the run."""
    ok = np.isfinite(y)
    if not ok.all():
        x, y = x[ok], y[ok]
    xs, ys = block_medians(x, y)
    overall, info = direction(xs, ys)
    info["levelled_since"] = None
    if len(ys) >= 32:
        h = len(ys) // 2
        first, _ = direction(xs[:h], ys[:h])
        second, _ = direction(xs[h:], ys[h:])
        info["halves"] = [first, second]
        if {first, second} == {"increasing", "decreasing"}:
            return "mixed", info
    if len(y) >= 2 * MIN_RECORDS:     # the last fifth: how the series ends
        t = tail_trend(x, y, x[len(x) - len(x) // 5])
        info["last_fifth"] = {"from_step": int(x[len(x) - len(x) // 5]),
                              "records": t["records"], "p": t["p"],
                              "change_pct": 100 * t["change"] / t["level"] if t["level"] else None}
    if overall in ("increasing", "decreasing") and len(ys) >= 2 * MIN_RECORDS:
        since = levelled_since(x, y, xs, info["theil_sen_change"])
        info["levelled_since"] = since
        if since is not None:
            t = tail_trend(x, y, since)
            info["since_change_pct"] = 100 * t["change"] / t["level"] if t["level"] else None
            info["since_p"] = t["p"]
    return overall, info


def tail_trend(x: np.ndarray, y: np.ndarray, since: float) -> dict[str, float]:
    """Mann-Kendall p, Theil-Sen change and median level of the records from step ``since`` on,
    on up to 100 block medians of that tail alone (a tail gets the resolution of a whole run)."""
    # x is in step order: the tail is a slice (no mask over the whole run: levelled_since asks
    # for up to 20 tails of each metric)
    start = int(np.searchsorted(x, since, side="left"))
    tx, ty = block_medians(x[start:], y[start:])
    tx, ty = tx.astype(float), ty.astype(float)
    records = len(x) - start
    if len(ty) < 3:
        return {"p": 1.0, "change": 0.0, "level": float(np.median(ty)) if len(ty) else 0.0,
                "records": records}
    _, p = mann_kendall(ty)
    return {"p": p, "change": theil_sen(tx, ty) * float(tx[-1] - tx[0]),
            "level": float(np.median(ty)), "records": records}


def levelled_since(x: np.ndarray, y: np.ndarray, xs: np.ndarray, overall_change: float
                   ) -> int | None:
    """First step of the longest tail (at least a fifth of the run, candidates at the block
    medians' steps ``xs``) that no longer moves: a Theil-Sen change under :data:`LEVEL_SHARE` of
    the tail's level, or one under 5 % of it that Mann-Kendall does not find significant at 5 %.
    None when the series still moves at its end. (``overall_change`` bounds nothing: a tail
    that is a tenth of a large fall can still be a real trend.)"""
    n = len(xs)
    best = None
    for k in range(n - max(MIN_RECORDS, n // 5), -1, -max(1, n // 20)):
        t = tail_trend(x, y, xs[k])
        share = abs(t["change"]) / max(abs(t["level"]), 1e-12)
        if not (share < LEVEL_SHARE or (t["p"] >= 0.05 and share < 0.05)):
            break
        best = k
    return int(xs[best]) if best is not None else None


def trend_text(m: MetricStats) -> str:
    """The trend of a metric's stats as the report words it (one wording everywhere)."""
    label = m.trend or "unknown"
    since = m.trend_test.levelled_since if m.trend_test is not None else None
    if since is not None and label in ("increasing", "decreasing"):
        pct = m.trend_test.since_change_pct
        return f"{label}, level since step {since:,}" + (
            f" ({pct:+.1f} % since)" if pct is not None else "")
    return label


def stability_cv(y: np.ndarray) -> float | None:
    """Median over consecutive windows of std / |mean|: how noisy the metric is around its level."""
    fin = np.isfinite(y)
    if not fin.all():
        y = y[fin]
    if len(y) < 10:
        return None
    w = max(5, len(y) // 20)
    k = len(y) // w
    blocks = y[len(y) - k * w:].reshape(k, w)
    mean = blocks.mean(axis=1)
    std = blocks.std(axis=1, ddof=1)
    ok = np.abs(mean) > 1e-12
    if not ok.any():
        return 0.0 if np.ptp(y) == 0 else None
    return float(np.median(std[ok] / np.abs(mean[ok])))


def window_medians(y: np.ndarray) -> tuple[float, float, int]:
    """Medians of the first and the last tenth of the finite values (at least 5 records each):
    robust ends of a series, which one noisy record cannot move."""
    v = y[np.isfinite(y)]
    if not len(v):
        return math.nan, math.nan, 0
    w = min(len(v), max(5, len(v) // 10))
    return float(np.median(v[:w])), float(np.median(v[-w:])), w


def metric_stats(step: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Level, change and trend of one metric.

    ``last_smoothed`` is the last point of the figures' smoothed line
    (:func:`radiovae.analysis.smoothing.smoothed_last`). The change runs between the medians of
    the first and the last tenth of the records (``window`` records each), never from one
    record; ``change_pct`` is None where a percentage is meaningless (the sign changed, or the
    start is near zero next to the metric's spread): ``change_abs`` always holds. A step-like
    series (a few distinct levels) is not smoothed and gets no trend test.
    """
    finite = np.isfinite(y)
    if not finite.all():
        # NaN before a metric's first value is a term not logged yet (the discriminator's before
        # disc_start), not a non-finite value; from its first value on, every NaN counts
        start = int(np.argmax(finite | np.isinf(y))) if (finite | np.isinf(y)).any() else len(y)
        step, y, finite = step[start:], y[start:], finite[start:]
    v = y if finite.all() else y[finite]
    first, last = (float(y[0]), float(y[-1])) if len(y) else (math.nan, math.nan)
    steplike = is_steplike(v)
    smooth = smoothed_last(y, SMOOTHING_WEIGHT)
    start, end, window = window_medians(y)
    if len(v) < 2 * window or len(v) < MIN_RECORDS:
        start = end = math.nan          # the two windows would overlap: no change to tell
    change_abs = end - start if math.isfinite(start) and math.isfinite(end) else None
    change = None
    if change_abs is not None and start != 0 and (start > 0) == (end > 0):
        # the spread only decides whether a percentage means something: an even sample of
        # <= 65k records tells it (two partitions of a 500k-record run cost a watch refresh)
        p5, p95 = np.percentile(v[::max(1, len(v) // 65_536)], [5, 95]) if len(v) > 1 \
            else (0.0, 0.0)
        spread = float(p95 - p5)
        if abs(start) >= 0.05 * spread:
            change = change_abs / abs(start) * 100.0
    if len(v) < MIN_RECORDS and not steplike:
        label, info = "too few records", {"levelled_since": None}
    elif steplike:     # a switch or a print-rounded schedule (a constant is flat)
        label = "flat" if np.ptp(v) == 0 else "step"
        info = {"levels": [_f(u) for u in levels(v)[:8]], "levelled_since": None}
    else:
        label, info = trend(step, y)
    return {
        "first": _f(first), "last": _f(last),
        "min": _f(v.min()) if len(v) else None, "max": _f(v.max()) if len(v) else None,
        "mean": _f(v.mean()) if len(v) else None,
        "last_smoothed": _f(smooth), "steplike": steplike,
        "start_median": _f(start), "end_median": _f(end), "window": window,
        "change_abs": _f(change_abs),
        "change_pct": _f(change), "sign_change": bool(change_abs is not None and start * end < 0),
        "trend": label, "trend_test": info,
        "stability_cv": _f(stability_cv(y)), "n_nonfinite": int((~finite).sum()),
        "n": int(len(y)),
    }


def _f(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


OUTLIER_BLOCK = 25   # rows per block of outliers() (a tenth of a shorter series)


def outliers(v: np.ndarray, z_limit: float, floor: float, two_sided: bool = False,
             scale: Callable[[np.ndarray], np.ndarray] = np.asarray, max_blocks: int = 2000
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows far from their block's median on ``scale`` (a monotone map such as log10):
    (rows, their block medians on that scale, z).

    Blocks of 25 rows (the rest joins the last block); the noise is 1.4826 x the typical (median)
    within-block MAD, so ordinary batch-to-batch noise sets its own bar, taken over at most
    ``max_blocks`` evenly spaced blocks (a median of medians: more blocks do not change it
    materially, and a 1M-row log would otherwise pay for 40k of them on every watch refresh).
    A row is an outlier when it is more than ``max(z_limit * noise, floor)`` above (or, two-sided,
    away from) its block median. Only a block whose range exceeds that bar can hold one, and the
    scale is monotone, so the range comes from the raw block min / max and the scale is applied
    to the sampled and the candidate blocks alone.
    """
    none = (np.array([], dtype=int), np.array([]), np.array([]))
    n = len(v)
    w = OUTLIER_BLOCK if n >= 10 * OUTLIER_BLOCK else max(5, n // 10)
    k = n // w
    if k < 1:
        return none
    blocks = v[: k * w].reshape(k, w)
    some = scale(blocks if k <= max_blocks else
                 blocks[np.linspace(0, k - 1, max_blocks).astype(int)])
    med = np.median(some, axis=1)
    noise = 1.4826 * float(np.median(np.median(np.abs(some - med[:, None]), axis=1)))
    if not noise > 0:
        return none
    bar = max(z_limit * noise, floor)
    starts = np.arange(k) * w
    hi, lo = blocks.max(axis=1), blocks.min(axis=1)
    if n > k * w:   # the rest joins the last block
        hi[-1], lo[-1] = max(hi[-1], v[k * w:].max()), min(lo[-1], v[k * w:].min())
    spread = scale(hi) - scale(lo)
    cand = np.flatnonzero(spread > bar)
    rows, meds, zs = [], [], []
    for group in (cand[cand < k - 1], cand[cand == k - 1]):   # full blocks; the last one
        if not len(group):
            continue
        idx = starts[group][:, None] + np.arange(w if group[0] < k - 1 else n - starts[-1])
        seg = scale(v[idx])
        m = np.median(seg, axis=1)
        r = seg - m[:, None]
        hb, hr = np.nonzero((np.abs(r) if two_sided else r) > bar)
        rows.append(idx[hb, hr])
        meds.append(m[hb])
        zs.append(r[hb, hr] / noise)
    if not rows:
        return none
    return np.concatenate(rows), np.concatenate(meds), np.concatenate(zs)
