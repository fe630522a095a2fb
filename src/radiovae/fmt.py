"""Numbers, steps, durations and times as radiovae writes them: analysis, report text and figures alike."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any


# -- number formatting --------------------------------------------------------------------------
def num(v: Any) -> str:
    """Readable number: 161,260 · 582.2 · 4.5 · 0.0089 · 5e-06 · — for missing."""
    if v is None:
        return "—"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+inf" if f > 0 else "−inf"
    a = abs(f)
    if a == 0:
        return "0"
    if f == int(f) and a < 1e15:
        return f"{int(f):,}"
    if a >= 1000:
        return f"{f:,.0f}"
    if a >= 100:
        return f"{f:.1f}"
    if a >= 1:
        return f"{f:.3g}"
    if a >= 1e-3:
        return f"{f:.4f}".rstrip("0").rstrip(".")
    return f"{f:.3g}"


def pct(v: Any) -> str:
    if v is None:
        return "—"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(f):
        return "—"
    return f"{f:+.1f} %"


def duration(seconds: Any) -> str:
    if seconds is None or not math.isfinite(float(seconds)):
        return "—"
    s = int(round(float(seconds)))
    if s < 120:
        return f"{s} s"
    h, m = divmod(s // 60, 60)
    if h >= 48:
        return f"{h // 24:,} days"
    return f"{h} h {m:02d} min" if h else f"{m} min"


def when(unix: Any) -> str:
    try:
        return datetime.fromtimestamp(float(unix), tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return "—"



def fmt_step(step: float, _pos=None) -> str:
    """50000 -> '50k', 1_500_000 -> '1.5M'."""
    a = abs(step)
    if a >= 1e6:
        return f"{step / 1e6:.4g}M"
    if a >= 1e3:
        return f"{step / 1e3:.4g}k"
    return f"{step:.0f}"
