"""How many decimals the records were printed with: what a value of 0 can hide.

RadioDiff prints every term with ``{:.5f}``, and its parsed CSV (training_data_parsed.csv) keeps
those printed values; an lr below 5e-6 then reads 0.0 in both. A full-precision writer (radiovae's
metrics.jsonl, TensorBoard's float32) has no such floor. The readers cannot know the writer, but
the values tell: every finite value of a file printed with ``{:.5f}`` is a multiple of 1e-5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MAX_DECIMALS = 8        # more than this: full precision, as far as anyone can tell
_SAMPLE = 4096


def print_decimals(table: pd.DataFrame) -> int | None:
    """The fewest decimal places that every finite metric value of ``table`` fits (5 for
    RadioDiff's text and CSV), or None when some value needs more than 8 (full precision) or
    there are no values."""
    cols = [c for c in table.columns if c not in ("step", "time")]
    if not cols or table.empty:
        return None
    rows = np.unique(np.linspace(0, len(table) - 1, min(len(table), _SAMPLE)).astype(int))
    v = np.concatenate([table[c].to_numpy(dtype="float64")[rows] for c in cols])   # no 2-D copy
    v = v[np.isfinite(v)]
    if not len(v):
        return None
    tol = 1e-12 * np.maximum(np.abs(v), 1.0)
    for k in range(MAX_DECIMALS + 1):
        if (np.abs(np.round(v, k) - v) <= tol).all():
            return k
    return None
