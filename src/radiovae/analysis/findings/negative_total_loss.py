"""``negative_total_loss``: the total loss below 0, and which term of it makes it so."""

from __future__ import annotations

from typing import Any

import numpy as np

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.analysis.lossmodel import negative_cause, recompute_total, term_medians
from radiovae.fmt import num

ID = "negative_total_loss"


def detect(ctx: Context) -> list[Finding]:
    name = ctx.name("total")
    total = ctx.col(name)
    if total is None:
        return []
    neg = np.isfinite(total) & (total < 0)
    if not neg.any():
        return []
    step = ctx.step
    ev: dict[str, Any] = {"rows": int(neg.sum()), "of_rows": int(np.isfinite(total).sum()),
                          "first_step": int(step[neg][0]), "last_step": int(step[neg][-1])}
    span = (ev["first_step"], ev["last_step"])
    base = (f"{name} is negative in {ev['rows']:,} of {ev['of_rows']:,} rows "
            f"(steps {num(ev['first_step'])}-{num(ev['last_step'])})")
    loss = recompute_total(ctx.table, ctx.config, adversarial_optional=True)
    if loss is None:
        msg = base + "; the records lack the terms to reproduce it (no nll)"
        dw, g, df = ctx.col("d_weight"), ctx.col("g_loss"), ctx.col("disc_factor")
        if dw is not None and g is not None:
            adv = dw * g * (df if df is not None else 1.0)
            med = float(np.nanmedian(adv[neg]))
            ev["median_adversarial_term"] = med
            if med < 0:
                msg += (f", but their adversarial term d_weight*disc_factor*g_loss is negative "
                        f"there (median {num(med)}), which can make the total negative by itself")
        return [finding(ID, "info", name, msg + ".", span=span, **ev)]
    nll, kl, dw, df, g, adv, model, tol, kw = (loss[k] for k in (
        "nll", "kl", "d_weight", "disc_factor", "g_loss", "adversarial", "model", "tol",
        "kl_weight"))
    ev["kl_weight_estimated" if loss["kl_weight_estimated"] else "kl_weight"] = kw
    resid = total - model
    explained = np.abs(resid) <= tol
    rows = np.flatnonzero(neg)
    share = float(explained[rows].mean())
    picks = rows[np.unique(np.linspace(0, len(rows) - 1, min(5, len(rows))).astype(int))]
    ev["samples"] = [{"step": int(step[i]), "total": float(total[i]), "nll": float(nll[i]),
                      "kl": float(kl[i]), "d_weight": _at(dw, i), "disc_factor": _at(df, i),
                      "g_loss": _at(g, i), "d_weight_x_g_loss": float(adv[i]),
                      "recomputed_total": float(model[i]), "residual": float(resid[i])}
                     for i in picks]
    ev["explained_share"] = share
    terms = term_medians(loss, rows)
    ev["median_terms"] = terms
    ev["median_adversarial_term"] = terms["adversarial"]
    ev["median_nll"] = terms["nll"]
    cause = negative_cause(terms)
    ev["negative_terms"] = cause
    logvar = ctx.col("logvar")
    if share < 0.95:
        msg = (f"{base}, and nll + kl_weight*kl + d_weight*disc_factor*g_loss explains only "
               f"{share:.0%} of those rows: some term of the total is not in the records.")
        return [finding(ID, "warning", name, msg, span=span, **ev)]
    why = []
    if "nll" in cause:
        lv = float(np.nanmedian(logvar[rows])) if logvar is not None else None
        ev["median_logvar"] = lv
        why.append(f"the NLL itself is negative (median {num(terms['nll'])}): logvar trains"
                   + (f" (median {num(lv)} in those rows)" if lv is not None else "")
                   + ", and rec/exp(logvar) + logvar summed over the pixels turns negative once "
                   "logvar is below 0 and the reconstruction error is small")
    if "adversarial" in cause:
        why.append(f"over these rows the adversarial term d_weight*disc_factor*g_loss (median "
                   f"{num(terms['adversarial'])}) is negative, since the logged g_loss is below 0"
                   + (f", and outweighs the NLL (median {num(terms['nll'])})"
                      if "nll" not in cause else ""))
    if not why:
        why.append("no single term is negative in the median row: the terms' sum is")
    msg = (f"{base}. This is arithmetic, not a better model: total = nll + kl_weight*kl + "
           f"d_weight*disc_factor*g_loss reproduces {share:.0%} of those rows. "
           + ". ".join(w[:1].upper() + w[1:] for w in why)
           + ". Judge reconstruction by rec_loss, not by the total.")
    return [finding(ID, "info", name, msg, span=span, **ev)]


def _at(v: np.ndarray | None, i: int) -> float | None:
    return None if v is None else float(v[i])


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    return ("Track rec_loss and the evaluation metrics (NMSE, SSIM, PSNR) as the quality "
            "signal: the total mixes in terms that can be negative by design.")
