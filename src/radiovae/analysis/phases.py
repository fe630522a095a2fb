"""Training phases: the VAE phase, then VAE-GAN once disc_factor switches on (RadioDiff's
``disc_start``), read from disc_factor when it is logged, else from the configured disc_start."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radiovae.analysis.names import find


def phases(table: pd.DataFrame, disc_start: int | None) -> list[dict]:
    """``[{name: vae | vae_gan, start_step, end_step, configured_start, source}, ...]``."""
    step = table["step"].to_numpy()
    if not len(step):
        return []
    first, last = int(step[0]), int(step[-1])
    name = find(table.columns, "disc_factor")
    if name is not None:
        f = table[name].to_numpy(dtype="float64")
        on = np.isfinite(f) & (f > 0)
        off = np.isfinite(f) & (f == 0)
        if on.any() and off.any():
            i = int(np.argmax(on))           # first GAN row
            if off[:i].any():
                j = int(np.flatnonzero(off[:i])[-1])
                return [
                    {"name": "vae", "start_step": first, "end_step": int(step[j]),
                     "configured_start": disc_start, "source": "disc_factor"},
                    {"name": "vae_gan", "start_step": int(step[i]), "end_step": last,
                     "configured_start": disc_start, "source": "disc_factor"},
                ]
        if on.any() and not off.any():
            return [{"name": "vae_gan", "start_step": first, "end_step": last,
                     "configured_start": disc_start, "source": "disc_factor"}]
        if off.any() and not on.any():
            return [{"name": "vae", "start_step": first, "end_step": last,
                     "configured_start": disc_start, "source": "disc_factor"}]
    if disc_start is not None:
        out = []
        if first < disc_start:
            end = int(step[step < disc_start][-1])
            out.append({"name": "vae", "start_step": first, "end_step": end,
                        "configured_start": disc_start, "source": "config"})
        if last >= disc_start:
            start = int(step[step >= disc_start][0])
            out.append({"name": "vae_gan", "start_step": start, "end_step": last,
                        "configured_start": disc_start, "source": "config"})
        return out
    return [{"name": "vae", "start_step": first, "end_step": last, "configured_start": None,
             "source": "unknown"}]


def phase_stats(table: pd.DataFrame, phases: list[dict], columns: list[str]) -> None:
    """Add ``records``, ``duration_s``, ``means`` {column: mean of its finite values} and
    ``ranges`` {column: [min, max] of them} to each phase, in place."""
    step = table["step"].to_numpy()
    t = table["time"].to_numpy(dtype="float64") if "time" in table.columns else None
    for p in phases:
        a = int(np.searchsorted(step, p["start_step"], side="left"))
        b = int(np.searchsorted(step, p["end_step"], side="right"))
        p["records"] = b - a
        tt = t[a:b][np.isfinite(t[a:b])] if t is not None else np.array([])
        p["duration_s"] = float(tt.max() - tt.min()) if len(tt) > 1 else None
        p["means"] = {c: _mean(table[c].to_numpy(dtype="float64")[a:b]) for c in columns}
        p["ranges"] = {c: _range(table[c].to_numpy(dtype="float64")[a:b]) for c in columns}


def around_switch(table: pd.DataFrame, phases: list[dict], columns: list[str], n: int = 20
                  ) -> dict | None:
    """Means of ``columns`` over the last ``n`` records before the VAE-GAN phase and the first
    ``n`` of it: what the switch itself changed."""
    gan = next((p for p in phases if p["name"] == "vae_gan"), None)
    step = table["step"].to_numpy()
    if gan is None or gan["start_step"] <= step[0]:
        return None
    cut = int(np.searchsorted(step, gan["start_step"], side="left"))
    lo, hi = max(0, cut - n), min(len(step), cut + n)
    rows = {}
    for c in columns:
        y = table[c].to_numpy(dtype="float64")
        a, b = _mean(y[lo:cut]), _mean(y[cut:hi])
        rows[c] = {"before": a, "after": b,
                   "change_pct": 100 * (b - a) / abs(a) if a and b is not None and
                   (a > 0) == (b > 0) else None}
    return {"step": gan["start_step"], "before_records": cut - lo, "after_records": hi - cut,
            "means": rows}


def _range(v: np.ndarray) -> list[float] | None:
    """[min, max] of the finite values, None when there are none."""
    v = v[np.isfinite(v)]
    return [float(v.min()), float(v.max())] if len(v) else None


def _mean(v: np.ndarray) -> float | None:
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else None
