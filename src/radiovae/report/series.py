"""What the figures draw: which column plays which role, and each curve thinned for drawing.

A 150k-step run has 150k points per metric; a figure needs ~2k. Thinning keeps the min and the max
of every bucket, so a one-step spike still shows. The smoothed curve is TensorBoard's: its debiased
EMA (analysis.smoothing.ema_smooth). TensorBoard smooths the <= 1,000 points it samples of a
series, so a weight means the same on a 1k- and a 150k-step run; here a long run is first cut into
<= 1,000 groups of consecutive records and their means are smoothed (no sample can miss a spike).
The rolling median of earlier reports stays available (``Smoothing(median=True)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from radiovae.analysis.names import ROLES
from radiovae.analysis.smoothing import DEFAULT_WEIGHT, ema_smooth, group_size, is_steplike

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
    "loss_simple": "diffusion loss loss_simple",
    "loss_vlb": "VLB term loss_vlb",
}

BUCKETS = 1000        # min + max per bucket -> ~2k drawn points per line
SMOOTH_FRACTION = 50  # rolling-median window = 1/50 of the run
PLOT_MAX = 1e300      # finite values beyond +-1e300 are drawn at +-1e300 (the tables say the truth)


@dataclass(frozen=True)
class Smoothing:
    """How the thick lines are smoothed: TensorBoard's debiased EMA of ``weight`` (default), or
    the rolling median over 1/50 of the run when ``median``."""

    weight: float = DEFAULT_WEIGHT
    median: bool = False

    def __post_init__(self):
        if not 0.0 <= self.weight < 1.0:
            raise ValueError(f"smoothing weight must be in [0, 1), got {self.weight}")

    @classmethod
    def parse(cls, text: str) -> Smoothing:
        """``--smoothing``: a weight in [0, 1) or ``median``; ValueError otherwise."""
        if text.strip().lower() == "median":
            return cls(median=True)
        try:
            weight = float(text)
        except ValueError:
            raise ValueError(f"--smoothing takes a weight in [0, 1) or 'median', got {text!r}")\
                from None
        if not 0.0 <= weight < 1.0:   # NaN fails this too
            raise ValueError(f"--smoothing weight must be in [0, 1), got {text}")
        return cls(weight=weight)

    @property
    def short(self) -> str:
        """Legend text: "EMA 0.6" / "rolling median"."""
        return "rolling median" if self.median else f"EMA {self.weight:g}"

    def describe(self, records: int, weight: float | None = None) -> str:
        """The caption sentence for a run of ``records`` records: what the thick lines are
        (``weight`` overrides this smoothing's weight: the interactive slider's value)."""
        if self.median and weight is None:
            return (f"Smoothing: rolling median over 1/{SMOOTH_FRACTION} of the run, "
                    f"{over(records, 'medians')}.")
        return (f"Smoothing: TensorBoard's debiased exponential moving average, weight "
                f"{self.weight if weight is None else weight:g}, {over(records)}.")


def over(records: int, stat: str = "means") -> str:
    """What the smoothing runs over, for a run of ``records`` records."""
    size = group_size(records)
    return ("over every record" if size == 1 else f"over the {stat} of groups of {size:,} "
            f"consecutive records ({-(-records // size):,} points)")


def group_stats(steps: np.ndarray, y: np.ndarray, size: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, min, max, mean) of consecutive groups of ``size`` records (the last may be shorter);
    x is each group's middle record's step; NaN records are skipped, an all-NaN group is NaN."""
    n = len(y)
    if size <= 1 or n == 0:
        return steps, y, y, y
    groups = -(-n // size)
    blocks = np.concatenate([y, np.full(groups * size - n, np.nan)]).reshape(groups, size)
    starts = np.arange(groups) * size
    mid = starts + (np.minimum(starts + size, n) - starts - 1) // 2
    with np.errstate(all="ignore"), _quiet():
        return steps[mid], np.nanmin(blocks, 1), np.nanmax(blocks, 1), np.nanmean(blocks, 1)


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
    def steplike(self) -> bool:
        """A schedule or switch (analysis.smoothing.is_steplike): drawn as steps, not smoothed."""
        return is_steplike(self.values)

    @cached_property
    def step_points(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of the records where the value changes, and the last record: drawn
        with steps-post, exactly the series (a jump at the step it happened), in a few points."""
        y = np.where(self.finite, self.values, np.nan)
        keep = np.ones(len(y), dtype=bool)
        keep[1:] = y[1:] != y[:-1]             # (NaN != NaN: a gap keeps its records)
        if len(y):
            keep[-1] = True
        return self.steps[keep], y[keep]

    @cached_property
    def groups(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x, min, max, mean) per smoothing group (see :func:`group_stats`)."""
        y = np.where(self.finite, self.values, np.nan)
        return group_stats(self.steps, y, group_size(len(y)))

    def smoothed(self, smoothing: Smoothing) -> tuple[np.ndarray, np.ndarray]:
        """The thick line: EMA of the group means, or the rolling median."""
        if smoothing.median:
            return self.rolling_median
        x, _lo, _hi, mean = self.groups
        return x, ema_smooth(mean, smoothing.weight)

    @cached_property
    def rolling_median(self) -> tuple[np.ndarray, np.ndarray]:
        """Rolling median over 1/50 of the run, of the group medians (x as :attr:`groups`);
        a group with no finite record breaks the line."""
        y = np.where(self.finite, self.values, np.nan)
        size = group_size(len(y))
        x = self.groups[0]
        if size > 1:
            groups = len(x)
            blocks = np.concatenate([y, np.full(groups * size - len(y), np.nan)])
            with np.errstate(all="ignore"), _quiet():
                y = np.nanmedian(blocks.reshape(groups, size), axis=1)
        window = max(3, len(y) // SMOOTH_FRACTION)
        sm = pd.Series(y).rolling(window, center=True, min_periods=1).median().to_numpy()
        return x, np.where(np.isnan(y), np.nan, sm)

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
            huge = np.abs(values) > PLOT_MAX    # (NaN compares False; inf stays non-finite)
            if huge.any():                      # matplotlib's tick maths overflows near 1e308
                values = np.where(huge & np.isfinite(values), np.sign(values) * PLOT_MAX, values)
            self._cache[name] = Curve(name, self.steps, values)
        return self._cache[name]
