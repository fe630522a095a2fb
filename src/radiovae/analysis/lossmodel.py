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


# what RadioDiff's rec_loss holds per pixel, before its optional perceptual term
PIXEL_TERMS = "|x − x̂| + (x − x̂)²"
RADIODIFF_PERCEPTUAL_DEFAULT = 1.0   # LPIPSWithDiscriminator(perceptual_weight=1.0)
_PERCEPTUAL_PLACES = (("model", "lossconfig", "perceptual_weight"),
                      ("model", "lossconfig", "params", "perceptual_weight"),
                      ("lossconfig", "perceptual_weight"), ("loss", "perceptual_weight"),
                      ("perceptual_weight",))


def rec_contents(raw_config: dict | None) -> dict[str, Any]:
    """What the logged rec_loss contains, as far as the config tells.

    RadioDiff's loss adds ``perceptual_weight · LPIPS`` to the per-pixel terms, with
    perceptual_weight 1.0 unless the config's lossconfig sets it; without a config it is unknown.
    """
    out: dict[str, Any] = {"pixel_terms": PIXEL_TERMS, "perceptual_weight": None,
                           "includes_lpips": None, "source": "no config"}
    if not isinstance(raw_config, dict) or not raw_config:
        return out
    for place in _PERCEPTUAL_PLACES:
        d: Any = raw_config
        for key in place:
            d = d.get(key) if isinstance(d, dict) else None
        if isinstance(d, (int, float)) and not isinstance(d, bool):
            out.update(perceptual_weight=float(d), includes_lpips=float(d) > 0, source="config")
            return out
    if _has_lossconfig(raw_config):
        out.update(perceptual_weight=RADIODIFF_PERCEPTUAL_DEFAULT, includes_lpips=True,
                   source="RadioDiff's default (the config does not set perceptual_weight)")
    return out


def _has_lossconfig(raw: dict) -> bool:
    model = raw.get("model")
    return isinstance(model, dict) and isinstance(model.get("lossconfig"), dict) or \
        isinstance(raw.get("lossconfig"), dict)


def term_medians(loss: dict[str, Any], rows: np.ndarray) -> dict[str, float]:
    """Median of each term of the total over ``rows``: nll, kl_weight·kl, the adversarial term."""
    out = {"nll": float(np.median(loss["nll"][rows])),
           "kl_term": float(np.median(loss["kl_weight"] * loss["kl"][rows])),
           "adversarial": float(np.median(loss["adversarial"][rows]))}
    return out


def negative_cause(terms: dict[str, float]) -> list[str]:
    """The terms that pull the total below 0, most negative first (kl_weight·kl is >= 0)."""
    neg = [(v, k) for k, v in terms.items() if v < 0]
    return [k for _v, k in sorted(neg)]


def decompose(table: pd.DataFrame, config: dict, phases: list[dict], resumes: list[dict]
              ) -> dict[str, Any] | None:
    """How the logged total is made of its terms, over the whole run.

    kl_weight comes from the config, else it is inferred (2 significant digits). Rows whose
    terms do not add up to the logged total are attributed: rows a resume rewrote (its
    overlap), rows without the adversarial terms in the VAE-GAN phase (missing terms), a
    kl_weight that differs from the config (the records imply another one), or unexplained.
    """
    loss = recompute_total(table, {}, adversarial_optional=True)
    if loss is None or loss["kl"] is None:
        return None
    inferred = float(f"{loss['kl_weight']:.2g}") if loss["kl_weight"] else 0.0
    configured = config.get("kl_weight")
    kw = float(configured) if configured is not None else inferred
    out: dict[str, Any] = {"kl_weight": kw,
                           "kl_weight_source": "config" if configured is not None else "inferred",
                           "kl_weight_inferred": inferred}
    total, model_rest = loss["total"], loss["nll"] + loss["adversarial"]
    model = model_rest + kw * loss["kl"]
    fin = np.isfinite(total) & np.isfinite(model)
    if not fin.any():
        return out
    resid = np.where(fin, total - model, 0.0)
    scale = float(np.nanmax(np.abs(total[fin]))) or 1.0
    tol = np.maximum(loss["tol"], 1e-3 * scale)
    off = fin & (np.abs(resid) > tol)
    out.update(residual_max=float(np.abs(resid[fin]).max()), rows_checked=int(fin.sum()),
               rows_not_adding_up=int(off.sum()), adds_up=not off.any())
    if not off.any():
        return out
    step = table["step"].to_numpy()
    why = np.full(len(step), "", dtype=object)
    for r in resumes:
        lo, hi = r.get("step"), r.get("previous_last_step")
        if lo is not None and hi is not None:
            why[off & (step >= lo) & (step <= hi) & (why == "")] = "resume_overlap"
    gan = next((p for p in phases if p["name"] == "vae_gan"), None)
    if gan is not None and (loss["d_weight"] is None or loss["g_loss"] is None):
        why[off & (step >= gan["start_step"]) & (why == "")] = "missing_adversarial_terms"
    if configured is not None and inferred and abs(inferred - kw) > 0.01 * abs(kw):
        alt = model_rest + inferred * loss["kl"]
        alt_ok = np.abs(total - alt) <= tol
        why[off & alt_ok & (why == "")] = "kl_weight_differs"
    why[off & (why == "")] = "unexplained"
    out["attribution"] = {k: int((why[off] == k).sum()) for k in
                          ("resume_overlap", "missing_adversarial_terms", "kl_weight_differs",
                           "unexplained") if (why[off] == k).any()}
    bad = np.flatnonzero(off)
    out["first_step_not_adding_up"] = int(step[bad[0]])
    out["last_step_not_adding_up"] = int(step[bad[-1]])
    return out


def loss_facts(table: pd.DataFrame, config: dict, raw_config: dict | None, phases: list[dict],
               resumes: list[dict], metrics: dict[str, dict], roles: dict[str, str]
               ) -> dict[str, Any]:
    """Everything the report says about the loss's terms: the decomposition, the KL term's
    weight, the NLL / rec relation, the adversarial term per phase and what rec_loss holds."""
    out: dict[str, Any] = dict(decompose(table, config, phases, resumes) or {})
    out["rec_contents"] = rec_contents(raw_config)
    sm = {r: (metrics.get(n) or {}).get("last_smoothed") for r, n in roles.items()}
    kw = out.get("kl_weight")
    if kw is not None and sm.get("kl") is not None:
        out["kl_term_latest"] = kw * sm["kl"]
        if sm.get("nll"):
            out["kl_share_of_nll"] = abs(out["kl_term_latest"]) / abs(sm["nll"])
    lv = metrics.get(roles.get("logvar", ""), {})
    out["logvar_trains"] = (None if not lv else
                            bool(lv.get("min") is not None and lv["max"] != lv["min"]))
    if "nll" in roles and "rec" in roles and out["logvar_trains"] is False:
        nll = table[roles["nll"]].to_numpy(dtype="float64")
        rec = table[roles["rec"]].to_numpy(dtype="float64")
        some = slice(None, None, max(1, len(nll) // 5000))
        ok = np.isfinite(nll[some]) & np.isfinite(rec[some]) & (rec[some] > 0)
        if ok.sum() >= 3:
            ratio = float(np.median(nll[some][ok] / rec[some][ok]))
            out["nll_over_rec"] = ratio
            side = np.sqrt(ratio) if ratio > 0 else 0.0
            if side and abs(side - round(side)) < 0.01 * side:
                out["pixels_per_map"] = int(round(side)) ** 2
                out["map_side"] = int(round(side))
    if "d_weight" in roles and "g_loss" in roles:
        step = table["step"].to_numpy()
        adv = table[roles["d_weight"]].to_numpy(dtype="float64") * \
            table[roles["g_loss"]].to_numpy(dtype="float64")
        if "disc_factor" in roles:
            adv = adv * table[roles["disc_factor"]].to_numpy(dtype="float64")
        # a term that swings by thousands either way has a meaningless mean: its median and its
        # 5-95 % range say what it does
        out["adversarial_by_phase"] = {}
        for p in phases:
            a = int(np.searchsorted(step, p["start_step"], side="left"))
            b = int(np.searchsorted(step, p["end_step"], side="right"))
            v = adv[a:b][np.isfinite(adv[a:b])]
            out["adversarial_by_phase"][p["name"]] = {
                "median": float(np.median(v)), "p5": float(np.percentile(v, 5)),
                "p95": float(np.percentile(v, 95)), "records": int(len(v))} if len(v) else None
    return out


def stage2_facts(table: pd.DataFrame, config: dict, roles: dict[str, str]) -> dict[str, Any]:
    """What train_cond_ldm.py's total_loss is: at each of gradient_accumulate_every passes it adds
    the *running* total, so with loss_vlb = 0 the logged total is about (ga + 1) / 2 times
    loss_simple; the loss the optimizer steps on is loss_simple + loss_vlb."""
    if "total" not in roles or "loss_simple" not in roles:
        return {}
    total = table[roles["total"]].to_numpy(dtype="float64")
    simple = table[roles["loss_simple"]].to_numpy(dtype="float64")
    ok = np.isfinite(total) & np.isfinite(simple) & (simple > 0)
    if ok.sum() < 5:
        return {}
    ratio = total[ok] / simple[ok]
    out = {"total_over_simple": float(np.median(ratio)),
           "total_over_simple_range": [float(np.percentile(ratio, 5)),
                                       float(np.percentile(ratio, 95))]}
    ga = config.get("gradient_accumulate_every")
    if ga:
        out["gradient_accumulate_every"] = int(ga)
        out["running_sum_factor"] = (int(ga) + 1) / 2
        out["matches_running_sum"] = abs(out["total_over_simple"] / out["running_sum_factor"]
                                         - 1) < 0.15
    return out
