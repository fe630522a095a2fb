"""Curve smoothing as TensorBoard does it, the one smoothing every smoothed number and curve uses.

TensorBoard's scalar dashboard smooths with a *debiased* exponential moving average: the running
average starts at 0, so each value is divided by 1 - w**k (k = finite points seen so far); without
that the first points would be pulled towards 0. Non-finite points are passed through unchanged
and do not enter the average; a constant series is returned as it is. The default weight 0.6 is
TensorBoard's default slider position.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

DEFAULT_WEIGHT = 0.6


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
    acc = lfilter([1.0 - weight], [1.0, -weight], v)
    k = np.arange(1, v.size + 1, dtype="float64")
    with np.errstate(under="ignore"):
        out[finite] = acc / (1.0 - weight ** k)
    return out
