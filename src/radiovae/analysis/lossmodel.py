"""RadioDiff's first-stage loss and its decomposition.

``total = nll + kl_weight·kl + d_weight·disc_factor·g_loss`` with ``nll = Σ_pixels(rec/exp(logvar)
+ logvar) / B`` and ``d_weight = disc_weight·clamp(‖∇nll‖/(‖∇g_loss‖ + 1e-4), 0, 1e4)`` (RadioDiff's
``LPIPSWithDiscriminator``); every statement about what makes up the total comes from here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from radiovae.analysis.names import find


def recompute_total(table: pd.DataFrame, config: dict, rows: np.ndarray | None = None,
                    adversarial_optional: bool = False) -> dict[str, Any] | None:
    """RadioDiff's total from its terms: nll + kl_weight*kl + d_weight*disc_factor*g_loss.

    Returns the terms, ``model`` (the recomputed total), ``tol`` (per row: the log prints 5
    decimals, and g_loss's rounding error is multiplied by d_weight) and ``kl_weight`` (from the
    config, else estimated from all rows), at ``rows`` only when given; None when the records
    lack nll, d_weight or g_loss (``adversarial_optional``: a plain VAE's records, without
    d_weight / g_loss, are nll + kl_weight*kl).
    """
    names = [find(table.columns, r) for r in ("total", "nll", "kl", "d_weight", "disc_factor",
                                              "g_loss")]
    if any(names[i] is None for i in ((0, 1) if adversarial_optional else (0, 1, 3, 5))):
        return None
    kw = config.get("kl_weight")
    estimated = kw is None
    if estimated:   # estimate it from every row: total - nll - adv = kl_weight * kl
        loss = recompute_total(table, {"kl_weight": 0.0},
                               adversarial_optional=adversarial_optional)
        rest, kl = loss["total"] - loss["nll"] - loss["adversarial"], loss["kl"]
        ok = np.isfinite(rest) & (kl > 0)
        kw = float(np.median(rest[ok] / kl[ok])) if ok.any() else 0.0
    total, nll, kl, dw, df, g = (
        None if n is None else
        (table[n].to_numpy(dtype="float64") if rows is None else
         table[n].to_numpy(dtype="float64")[rows]) for n in names)
    df = np.ones_like(total) if df is None else df
    kl = np.zeros_like(total) if kl is None else kl
    adv = np.zeros_like(total) if dw is None or g is None else dw * df * g
    tol = 2e-5 * (1 + np.abs(dw * df) if dw is not None else 1) + 1e-4 * np.abs(total) + 1e-3
    return {"total": total, "nll": nll, "kl": kl, "d_weight": dw, "disc_factor": df, "g_loss": g,
            "adversarial": adv, "model": nll + kw * kl + adv, "tol": tol, "kl_weight": kw,
            "kl_weight_estimated": estimated}
