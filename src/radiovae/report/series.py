"""What the figures draw: which column plays which role, and each curve thinned for drawing.

A 150k-step run has 150k points per metric; a figure needs ~2k. Thinning keeps the min and the max
of every bucket, so a one-step spike still shows; the smoothed curve is a rolling median of bucket
medians, which a spike cannot drag.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from radiovae.analysis.names import ROLES

LABELS = {
    "total": "total loss",
    "kl": "KL loss",
    "rec": "reconstruction loss",
    "nll": "NLL loss",
    "disc_loss": "discriminator loss",
    "g_loss": "generator (adversarial) loss",
    "d_weight": "adaptive weight d_weight",
    "disc_factor": "disc_factor",
    "logvar": "logvar",
    "logits_real": "logits real",
    "logits_fake": "logits fake",
    "lr": "learning rate",
}

BUCKETS = 1000        # min + max per bucket -> ~2k drawn points per line
SMOOTH_FRACTION = 50  # smoothing window = 1/50 of the run


def resolve_roles(columns) -> dict[str, str]:
    """Role -> the column that plays it in these records (roles with no column are left out)."""
    present = set(columns)
    found = {}
    for role, names in ROLES.items():
        for name in names:
            if name in present:
                found[role] = name
                break
    return found


def minmax_indices(y: np.ndarray, buckets: int = BUCKETS) -> np.ndarray:
    """Indices that keep each bucket's min and max (in step order): spikes survive thinning."""
    n = len(y)
    if n <= 2 * buckets:
        return np.arange(n)
    size = n // buckets
    full = size * buckets
    blocks = y[:full].reshape(buckets, size)
    finite = np.isfinite(blocks)
    lo = np.where(finite, blocks, np.inf).argmin(axis=1)
    hi = np.where(finite, blocks, -np.inf).argmax(axis=1)
    starts = np.arange(buckets) * size
    idx = np.concatenate([starts + lo, starts + hi, np.arange(full, n)])
    return np.unique(idx)


@dataclass
class Curve:
    """One metric ready to draw: thinned raw points, a smoothed line, and the y-scale to use."""

    name: str
    steps: np.ndarray   # all steps (int)
    values: np.ndarray  # all values (float, non-finite kept)

    @cached_property
    def finite(self) -> np.ndarray:
        return np.isfinite(self.values)

    @cached_property
    def raw(self) -> tuple[np.ndarray, np.ndarray]:
        y = np.where(self.finite, self.values, np.nan)
        idx = minmax_indices(y)
        return self.steps[idx], y[idx]

    @cached_property
    def smooth(self) -> tuple[np.ndarray, np.ndarray]:
        """Rolling median (of bucket medians when the run is long); NaN-gaps are skipped."""
        x, y = self.steps, np.where(self.finite, self.values, np.nan)
        n = len(y)
        if n > 4 * BUCKETS:
            size = n // BUCKETS
            full = size * BUCKETS
            with np.errstate(all="ignore"), _quiet():
                y = np.nanmedian(y[:full].reshape(BUCKETS, size), axis=1)
            x = x[:full].reshape(BUCKETS, size)[:, size // 2]
        window = max(3, len(y) // SMOOTH_FRACTION)
        sm = pd.Series(y).rolling(window, center=True, min_periods=1).median().to_numpy()
        sm = np.where(np.isnan(y), np.nan, sm)   # break the line where records are NaN / inf
        return x, sm

    @cached_property
    def scale(self) -> tuple[str, float | None]:
        """("linear" | "log" | "symlog", linthresh). Positive values spanning more than two
        decades (max / 1st percentile) get a log axis; values that cross zero get symlog when
        their extremes are > 30x their typical magnitude (a spike, a divergence), with the linear
        band wide enough (a power of ten above the 90th percentile) that the bulk stays linear."""
        v = self.values[self.finite]
        if len(v) < 2:
            return "linear", None
        mag = np.abs(v[v != 0])
        if len(mag) < 2:
            return "linear", None
        if v.min() > 0:
            floor = float(np.percentile(v, 1))
            return ("log", None) if floor > 0 and float(v.max()) / floor > 100 else ("linear", None)
        typical = float(np.median(mag))
        if typical > 0 and float(mag.max()) / typical > 30:
            return "symlog", float(10 ** np.ceil(np.log10(np.percentile(mag, 90))))
        return "linear", None

    @cached_property
    def bounds(self) -> tuple[float, float] | None:
        v = self.values[self.finite]
        return (float(v.min()), float(v.max())) if len(v) else None


class _quiet:
    """Silence numpy's all-NaN-slice warning (a bucket of NaNs is fine: it draws as a gap)."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


class Curves:
    """Every metric of a run as a lazily-built :class:`Curve`, looked up by role or by name."""

    def __init__(self, table: pd.DataFrame):
        self.table = table
        self.steps = table["step"].to_numpy()
        self.roles = resolve_roles(table.columns)
        self._cache: dict[str, Curve] = {}

    def __contains__(self, role: str) -> bool:
        return role in self.roles

    def name(self, role: str) -> str:
        return self.roles[role]

    def __getitem__(self, role_or_name: str) -> Curve:
        name = self.roles.get(role_or_name, role_or_name)
        if name not in self._cache:
            values = self.table[name].to_numpy(dtype=float)
            self._cache[name] = Curve(name, self.steps, values)
        return self._cache[name]
