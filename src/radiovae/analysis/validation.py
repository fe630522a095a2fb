"""Validation results of a run, apart from its training values (``Run.validation``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from radiovae.runlog.run import Run


def validation_summary(run: Run) -> list[dict[str, Any]]:
    """Each validation metric of a run (as logged, not smoothed): evaluations, last value and the
    lowest, with their steps. Empty when the records hold no validation."""
    val = run.validation
    if val is None:
        return []
    out = []
    step = val["step"].to_numpy()
    for col in (c for c in val.columns if c not in ("step", "time")):
        y = val[col].to_numpy(dtype="float64")
        ok = np.isfinite(y)
        if not ok.any():
            continue
        s, v = step[ok], y[ok]
        i = int(np.argmin(v))
        out.append({"metric": col, "evaluations": int(ok.sum()),
                    "last": float(v[-1]), "last_step": int(s[-1]),
                    "lowest": float(v[i]), "lowest_step": int(s[i])})
    return out
