"""Findings: what a careful reader of every number would point out, each with its evidence.

Every finding is ``{id, severity: info|warning|critical, metric, message, evidence}``; the verdict
and every status word in the report follow from them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from radiovae.analysis.names import ADVERSARIAL, find, role_of
from radiovae.analysis.stats import block_medians, direction

SEVERITY = {"info": 0, "warning": 1, "critical": 2}


def finding(id: str, severity: str, metric: str | None, message: str, **evidence: Any) -> dict:
    return {"id": id, "severity": severity, "metric": metric, "message": message,
            "evidence": evidence}


def _n(v: float) -> str:
    """A number for a message: thousands separators, 4 significant digits."""
    if v is None or not math.isfinite(v):
        return str(v)
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    if abs(v) >= 1000:
        return f"{v:,.1f}"
    return f"{v:.4g}"


def _col(table: pd.DataFrame, name: str | None) -> np.ndarray | None:
    return None if name is None else table[name].to_numpy(dtype="float64")


# -- resumes and phases ------------------------------------------------------------------------

def resumed(resumes: list[dict]) -> list[dict]:
    out = []
    for r in resumes:
        gap = r.get("gap_s")
        gap_txt = f", after a {_duration(gap)} pause" if gap is not None and gap > 0 else ""
        lost = r.get("overlap_steps") or 0
        msg = (f"training resumed at step {_n(r['step'])} (the run before had reached step "
               f"{_n(r['previous_last_step'])}{gap_txt})")
        if lost:
            msg += (f"; {lost} logged step(s) of the earlier run at or past step {_n(r['step'])} "
                    "were replaced by the resumed run's records (that state was lost)")
        out.append(finding("resumed", "info", None, msg + ".", **r))
    return out


def phase_change(phases: list[dict], table: pd.DataFrame) -> list[dict]:
    vae = next((p for p in phases if p["name"] == "vae"), None)
    gan = next((p for p in phases if p["name"] == "vae_gan"), None)
    if not (vae and gan):
        return []
    configured = gan.get("configured_start")
    ev: dict[str, Any] = {"last_vae_step": vae["end_step"], "first_vae_gan_step": gan["start_step"],
                          "configured_start": configured, "observed_from": gan.get("source")}
    msg = (f"the discriminator switched on between step {_n(vae['end_step'])} and step "
           f"{_n(gan['start_step'])} (disc_factor 0 -> 1): VAE phase, then VAE-GAN")
    severity = "info"
    if configured is not None:
        if vae["end_step"] < configured <= gan["start_step"]:
            msg += f", as configured (disc_start {_n(configured)})"
        elif gan.get("source") == "disc_factor":
            severity = "warning"
            msg += (f", but the configured disc_start is {_n(configured)}: the config in hand "
                    "does not match what the records show")
    total = find(table.columns, "total")
    if total is not None:
        t = table[total].to_numpy(dtype="float64")
        s = table["step"].to_numpy()
        before = t[(s <= vae["end_step"])][-10:]
        after = t[(s >= gan["start_step"])][:10]
        if len(before) and len(after):
            ev["total_loss_before"] = float(np.nanmedian(before))
            ev["total_loss_after"] = float(np.nanmedian(after))
            msg += (f"; {total} moved from a median of {_n(ev['total_loss_before'])} over the last "
                    f"rows before to {_n(ev['total_loss_after'])} right after")
    return [finding("phase_change", severity, find(table.columns, "disc_factor"), msg + ".", **ev)]


# -- loss arithmetic ----------------------------------------------------------------------------

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
    tol = 2e-5 * (1 + np.abs(dw * df)) + 1e-4 * np.abs(total) + 1e-3
    return {"total": total, "nll": nll, "kl": kl, "d_weight": dw, "disc_factor": df, "g_loss": g,
            "adversarial": adv, "model": nll + kw * kl + adv, "tol": tol, "kl_weight": kw,
            "kl_weight_estimated": estimated}


def negative_total_loss(table: pd.DataFrame, config: dict) -> list[dict]:
    name = find(table.columns, "total")
    total = _col(table, name)
    if total is None:
        return []
    neg = np.isfinite(total) & (total < 0)
    if not neg.any():
        return []
    step = table["step"].to_numpy()
    ev: dict[str, Any] = {"rows": int(neg.sum()), "of_rows": int(np.isfinite(total).sum()),
                          "first_step": int(step[neg][0]), "last_step": int(step[neg][-1])}
    base = (f"{name} is negative in {ev['rows']:,} of {ev['of_rows']:,} rows "
            f"(steps {_n(ev['first_step'])}-{_n(ev['last_step'])})")
    loss = recompute_total(table, config)
    if loss is None:
        return [finding("negative_total_loss", "warning", name,
                        base + "; the records lack the terms (nll, d_weight, g_loss) that would "
                        "explain it.", **ev)]
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
                      "kl": float(kl[i]), "d_weight": float(dw[i]), "disc_factor": float(df[i]),
                      "g_loss": float(g[i]), "d_weight_x_g_loss": float(adv[i]),
                      "recomputed_total": float(model[i]), "residual": float(resid[i])}
                     for i in picks]
    ev["explained_share"] = share
    ev["median_adversarial_term"] = float(np.median(adv[rows]))
    ev["median_nll"] = float(np.median(nll[rows]))
    if share >= 0.95:
        msg = (f"{base}. This is arithmetic, not a better model: total = nll + kl_weight*kl + "
               f"d_weight*disc_factor*g_loss reproduces {share:.0%} of those rows, and the "
               f"adversarial term d_weight*g_loss (median {_n(ev['median_adversarial_term'])}) "
               f"outweighs the reconstruction NLL (median {_n(ev['median_nll'])}). Judge progress "
               "by rec_loss / nll_loss, not by the total.")
        return [finding("negative_total_loss", "info", name, msg, **ev)]
    msg = (f"{base}, and nll + kl_weight*kl + d_weight*disc_factor*g_loss explains only "
           f"{share:.0%} of those rows: some term of the total is not in the records.")
    return [finding("negative_total_loss", "warning", name, msg, **ev)]


def weight_saturated(table: pd.DataFrame, config: dict, phases: list[dict]) -> list[dict]:
    """d_weight pinned at its clamp: RadioDiff clamps ||grad nll|| / ||grad g|| to [0, 1e4] and
    multiplies by disc_weight, so the cap is 1e4 * disc_weight."""
    name = find(table.columns, "d_weight")
    d = _col(table, name)
    if d is None:
        return []
    fin = np.isfinite(d)
    if fin.sum() < 5:
        return []
    dw = config.get("disc_weight")
    if dw is not None:
        cap, how = 1e4 * float(dw), f"1e4 x disc_weight {_n(dw)}"
    else:  # infer: a round constant that is also the maximum, in most rows
        vals, counts = np.unique(d[fin], return_counts=True)
        cap = float(vals[np.argmax(counts)])
        mant = cap / 10 ** math.floor(math.log10(cap)) if cap > 0 else 0
        if not (cap == d[fin].max() and any(abs(mant - m) < 1e-9 for m in (1, 2, 2.5, 5))):
            return []
        how = f"a round constant at the series' maximum, i.e. 1e4 x disc_weight {_n(cap / 1e4)}"
    at = fin & (np.abs(d - cap) <= 1e-6 * max(abs(cap), 1))
    step = table["step"].to_numpy()
    share = float(at[fin].mean())
    ev: dict[str, Any] = {"value": cap, "clamp_from": how, "share": share,
                          "rows_at_clamp": int(at.sum()), "rows": int(fin.sum())}
    gan = next((p for p in phases if p["name"] == "vae_gan"), None)
    if gan is not None:
        in_gan = fin & (step >= gan["start_step"])
        if in_gan.any():
            ev["share_vae_gan"] = float(at[in_gan].mean())
            below = np.flatnonzero(in_gan & ~at)
            ev["first_gan_step_below_clamp"] = int(step[below[0]]) if len(below) else None
    if share < 0.5 and ev.get("share_vae_gan", 0) < 0.5:
        return []
    gan_txt = (f" ({ev['share_vae_gan']:.1%} of VAE-GAN rows)" if "share_vae_gan" in ev else "")
    msg = (f"{name} sits at {_n(cap)} ({how}, its clamp) in {share:.1%} of rows{gan_txt}. The "
           "adaptive weight ||grad nll|| / ||grad g_loss|| exceeds the 1e4 cap: the adversarial "
           "gradient is tiny next to the reconstruction gradient, so the GAN term is weighted by "
           "the cap, not adaptively, and d_weight*g_loss dominates the total loss. Consider a "
           "smaller disc_weight or checking the last-layer gradient used for the weight.")
    return [finding("weight_saturated", "warning", name, msg, **ev)]


def discriminator_untrained(table: pd.DataFrame, config: dict, phases: list[dict]) -> list[dict]:
    """The VAE-GAN phase runs, but nothing shows the discriminator being trained.

    RadioDiff's train_vae.py steps the discriminator only at gradient-accumulation index >= 1 and
    logs its terms (disc_loss, logits_real, logits_fake) only then: with
    ``gradient_accumulate_every: 1`` (its published config) the discriminator keeps its random
    initialisation for the whole VAE-GAN phase, and g_loss (-mean logit of that fixed network on
    the reconstructions) hardly moves across the switch.
    """
    gan = next((p for p in phases if p["name"] == "vae_gan"), None)
    if gan is None:
        return []
    step = table["step"].to_numpy()
    in_gan = step >= gan["start_step"]
    if in_gan.sum() < 5:
        return []
    disc_cols = [c for c in (find(table.columns, r) for r in ("disc_loss", "logits_real",
                                                               "logits_fake")) if c]
    if any(np.isfinite(table[c].to_numpy(dtype="float64")[in_gan]).any() for c in disc_cols):
        return []   # the discriminator's own terms are there: its progress can be judged
    ev: dict[str, Any] = {"vae_gan_rows": int(in_gan.sum()), "first_step": int(step[in_gan][0]),
                          "last_step": int(step[in_gan][-1]), "disc_columns": disc_cols}
    reasons = []
    accumulate = config.get("gradient_accumulate_every")
    if accumulate is not None:
        ev["gradient_accumulate_every"] = accumulate
        if int(accumulate) == 1:
            reasons.append("the config sets gradient_accumulate_every = 1, and RadioDiff's "
                           "train_vae.py steps the discriminator only at accumulation index >= 1, "
                           "so its optimizer never runs")
    g = _col(table, find(table.columns, "g_loss"))
    if g is not None:
        before, after = g[~in_gan & np.isfinite(g)], g[in_gan & np.isfinite(g)]
        if len(before) >= 5 and len(after) >= 5:
            b, a = float(np.median(before)), float(np.median(after[-max(5, len(after) // 5):]))
            spread = float(np.median(np.abs(before - b))) or abs(b) or 1.0
            ev.update(g_loss_median_vae=b, g_loss_median_late_vae_gan=a,
                      g_loss_shift_in_mads=(a - b) / spread)
            if abs(a - b) <= 2 * spread:
                reasons.append(f"g_loss, the generator's score from the discriminator, has the same "
                               f"median before the switch ({_n(b)}) and at the end of the VAE-GAN "
                               f"phase ({_n(a)}): the discriminator it comes from is not changing")
    severity = "warning" if reasons else "info"
    msg = (f"the VAE-GAN phase has {ev['vae_gan_rows']:,} records (steps "
           f"{_n(ev['first_step'])}-{_n(ev['last_step'])}) but no discriminator loss or logits "
           "in any of them")
    if reasons:
        msg += ("; " + "; ".join(reasons) + ". The discriminator is most likely never trained: the "
                "adversarial term d_weight*g_loss then pushes the decoder against a fixed random "
                "network, not a learned critic.")
    else:
        msg += ": the discriminator's own progress cannot be judged from these records."
    return [finding("discriminator_untrained", severity, find(table.columns, "g_loss")
                    or find(table.columns, "disc_factor"), msg, **ev)]


# -- frozen / lr --------------------------------------------------------------------------------

def frozen_metrics(table: pd.DataFrame, phases: list[dict]) -> list[dict]:
    out = []
    step = table["step"].to_numpy()
    for name in table.columns:
        if name in ("step", "time"):
            continue
        role = role_of(name)
        if role == "lr":
            continue   # lr_zero says more
        y = table[name].to_numpy(dtype="float64")
        if len(y) < 5 or y[0] != y[-1]:        # cheap reject first: most metrics move
            continue
        fin = np.isfinite(y)
        if fin.sum() < 5 or np.ptp(y[fin]) != 0:
            continue
        value = float(y[fin][0])
        ev = {"value": value, "rows": int(fin.sum()), "first_step": int(step[fin][0]),
              "last_step": int(step[fin][-1])}
        if role == "logvar":
            nll, rec = _col(table, find(table.columns, "nll")), _col(table, find(table.columns, "rec"))
            msg = (f"{name} is {_n(value)} in every one of {ev['rows']:,} rows (steps "
                   f"{_n(ev['first_step'])}-{_n(ev['last_step'])}): the learned log-variance is not "
                   "being optimized, so the NLL is a fixed multiple of the reconstruction loss. "
                   "(RadioDiff's train_vae.py gives its autoencoder optimizer only the encoder, "
                   "decoder and quant_conv parameters, not loss.logvar.)")
            if nll is not None and rec is not None:
                some = slice(None, None, max(1, len(nll) // 20_000))   # a median of a ratio
                nll, rec = nll[some], rec[some]                        # needs no more rows
                ok = np.isfinite(nll) & np.isfinite(rec) & (rec > 0)
                if ok.any():
                    ratio = float(np.median(nll[ok] / rec[ok]))
                    ev["nll_over_rec"] = ratio
                    msg += f" (nll / rec = {_n(ratio)} in the median row"
                    side = math.sqrt(ratio) if ratio > 0 else 0
                    msg += (f" = {int(round(side))}x{int(round(side))} pixels)" if
                            abs(side - round(side)) < 0.01 * side else ")")
            out.append(finding("frozen_metric", "warning", name, msg, **ev))
        elif role == "disc_factor":
            continue   # one phase only: the phases say so
        elif role == "d_weight":
            continue   # weight_saturated says more
        else:
            out.append(finding("frozen_metric", "warning", name,
                               f"{name} never changes: {_n(value)} in all {ev['rows']:,} rows; it is "
                               "not being updated, or not being logged correctly.", **ev))
    return out


def lr_zero(table: pd.DataFrame, config: dict, fmt: set[str]) -> list[dict]:
    name = find(table.columns, "lr")
    lr = _col(table, name)
    if lr is None:
        return []
    fin = np.isfinite(lr)
    zero = fin & (lr == 0)
    if not zero.any():
        return []
    step = table["step"].to_numpy()
    ev: dict[str, Any] = {"zero_rows": int(zero.sum()), "rows": int(fin.sum()),
                          "first_zero_step": int(step[zero][0]),
                          "configured_lr": config.get("lr"), "formats": sorted(fmt)}
    others = [n for n in (find(table.columns, r) for r in ("rec", "nll", "kl")) if n]
    moving = [n for n in others if np.ptp(np.nan_to_num(table[n].to_numpy(dtype=float))) > 0]
    ev["metrics_still_changing"] = moving
    if zero[fin].all():
        base = f"{name} is logged as 0 in all {ev['rows']:,} rows"
        cfg = config.get("lr")
        if fmt and not fmt & {"radiodiff_log", "csv"}:   # JSONL / TensorBoard: full precision
            msg = (f"{base} of full-precision records: the learning rate really is 0, so the "
                   "schedule is broken" + (f" (yet {', '.join(moving)} change: check what "
                                           "updates the weights)." if moving else
                                           " and the weights do not move."))
            return [finding("lr_zero", "warning" if moving else "critical", name, msg, **ev)]
        if cfg is not None:
            # RadioDiff's LambdaLR: lr * max((1 - step / total) ** 0.95, min_lr)
            total = config.get("total_steps")
            s0 = ev["first_zero_step"]
            factor = max((1 - s0 / total) ** 0.95, config.get("min_lr") or 0.0) if (
                total and s0 < total) else 1.0
            predicted = float(cfg) * factor
            printed = f"{predicted:.5f}"
            ev.update(predicted_lr=predicted, predicted_lr_printed=printed)
            if float(printed) == 0:
                decay = (f", decayed by RadioDiff's schedule (1 - step/{total:,})^0.95 to "
                         f"{predicted:.2g} at step {_n(s0)}," if factor < 1 else "")
                msg = (f"{base}. Print precision, not a broken schedule: the configured lr "
                       f"{float(cfg):g}{decay} prints as {printed} with RadioDiff's {{:.5f}} (any lr "
                       "below 5e-6 does)" + (f", and {', '.join(moving)} keep changing, so the "
                                             "optimizer is stepping" if moving else "") +
                       ". Log lr in scientific notation to see it.")
                return [finding("lr_zero", "info", name, msg, **ev)]
            sev = "warning" if moving else "critical"
            msg = (f"{base}, yet the configured lr {float(cfg):g} would print as {printed} at step "
                   f"{_n(s0)}: the schedule or the lr logging is broken" +
                   (f" (the losses {', '.join(moving)} still change, so something updates the "
                    "weights)." if moving else "; nothing else changes either, so lr really is 0 "
                    "and the weights do not move."))
            return [finding("lr_zero", sev, name, msg, **ev)]
        still = (f" Other losses ({', '.join(moving)}) keep changing, so the weights are being "
                 "updated: print precision is the likely cause." if moving else
                 " No other loss changes either: a broken schedule (lr = 0) is likely.")
        msg = (f"{base}. Either print precision (RadioDiff prints {{:.5f}}, so any lr below 5e-6, "
               "like its configs' 5e-6 after decay, shows as 0.00000) or a broken schedule; the "
               f"config is not in the records to tell.{still}")
        return [finding("lr_zero", "warning" if moving else "critical", name, msg, **ev)]
    first = ev["first_zero_step"]
    if np.all(zero[fin][np.argmax(zero[fin]):]):
        msg = (f"{name} falls to 0 at step {_n(first)} and stays there ({ev['zero_rows']:,} rows): "
               "the schedule ends before training does (or its value drops below print precision).")
        return [finding("lr_zero", "warning", name, msg, **ev)]
    msg = f"{name} is logged as 0 in {ev['zero_rows']:,} of {ev['rows']:,} rows (first at step {_n(first)})."
    return [finding("lr_zero", "info", name, msg, **ev)]


# -- numbers going wrong ------------------------------------------------------------------------

def non_finite(table: pd.DataFrame) -> list[dict]:
    """NaN / inf values. A NaN before a metric's first finite value is a term not logged yet
    (e.g. one that appears later), not a failure; from then on every NaN counts, the end included."""
    out = []
    step = table["step"].to_numpy()
    for name in table.columns:
        if name in ("step", "time"):
            continue
        y = table[name].to_numpy(dtype="float64")
        fin = np.isfinite(y)
        if fin.all() or not (fin.any() or np.isinf(y).any()):
            continue
        start = int(np.argmax(fin | np.isinf(y)))
        bad = ~fin
        bad[:start] = False
        if not bad.any():
            continue
        rows = np.flatnonzero(bad)
        kinds = sorted({"nan" if np.isnan(v) else ("inf" if v > 0 else "-inf") for v in y[rows]})
        out.append(finding(
            "non_finite", "critical", name,
            f"{name} is non-finite ({'/'.join(kinds)}) in {len(rows):,} row(s), first at step "
            f"{_n(step[rows[0]])}: training from there is not trustworthy (check the AMP scaler, "
            "the learning rate and the data).",
            count=int(len(rows)), first_step=int(step[rows[0]]), kinds=kinds,
            steps=[int(s) for s in step[rows][:20]]))
    return out


def _watched(table: pd.DataFrame) -> list[str]:
    """Reconstruction-side losses: expected to fall smoothly (adversarial terms are not)."""
    out = []
    for name in table.columns:
        if name in ("step", "time"):
            continue
        role = role_of(name)
        if role in ("rec", "nll", "kl") or (role is None and "loss" in name.lower()
                                             and not any(a in name for a in ADVERSARIAL)):
            out.append(name)
    return out


def outliers(v: np.ndarray, z_limit: float, floor: float, two_sided: bool = False,
             scale: Callable[[np.ndarray], np.ndarray] = np.asarray, max_blocks: int = 2000
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows far from their block's median on ``scale`` (a monotone map such as log10):
    (rows, their block medians on that scale, z).

    Blocks of 25 rows (the rest joins the last block); the noise is 1.4826 x the typical (median)
    within-block MAD, so ordinary batch-to-batch noise sets its own bar, taken over at most
    ``max_blocks`` evenly spaced blocks (a median of medians: more blocks do not change it
    materially, and a 1M-row log would otherwise pay for 40k of them on every watch refresh).
    A row is an outlier when it is more than ``max(z_limit * noise, floor)`` above (or, two-sided,
    away from) its block median. Only a block whose range exceeds that bar can hold one, and the
    scale is monotone, so the range comes from the raw block min / max and the scale is applied
    to the sampled and the candidate blocks alone.
    """
    none = (np.array([], dtype=int), np.array([]), np.array([]))
    n = len(v)
    w = 25 if n >= 250 else max(5, n // 10)
    k = n // w
    if k < 1:
        return none
    blocks = v[: k * w].reshape(k, w)
    some = scale(blocks if k <= max_blocks else
                 blocks[np.linspace(0, k - 1, max_blocks).astype(int)])
    med = np.median(some, axis=1)
    noise = 1.4826 * float(np.median(np.median(np.abs(some - med[:, None]), axis=1)))
    if not noise > 0:
        return none
    bar = max(z_limit * noise, floor)
    starts = np.arange(k) * w
    hi, lo = blocks.max(axis=1), blocks.min(axis=1)
    if n > k * w:   # the rest joins the last block
        hi[-1], lo[-1] = max(hi[-1], v[k * w:].max()), min(lo[-1], v[k * w:].min())
    spread = scale(hi) - scale(lo)
    cand = np.flatnonzero(spread > bar)
    rows, meds, zs = [], [], []
    for group in (cand[cand < k - 1], cand[cand == k - 1]):   # full blocks; the last one
        if not len(group):
            continue
        idx = starts[group][:, None] + np.arange(w if group[0] < k - 1 else n - starts[-1])
        seg = scale(v[idx])
        m = np.median(seg, axis=1)
        r = seg - m[:, None]
        hb, hr = np.nonzero((np.abs(r) if two_sided else r) > bar)
        rows.append(idx[hb, hr])
        meds.append(m[hb])
        zs.append(r[hb, hr] / noise)
    if not rows:
        return none
    return np.concatenate(rows), np.concatenate(meds), np.concatenate(zs)


def _opening_transient_end(step: np.ndarray, config: dict) -> int | None:
    """First step after the opening transient of a run recorded from its start: the first few
    records of a fresh model sit far above what follows by nature, which is no spike."""
    if not len(step):
        return None
    planned = config.get("total_steps") or int(step[-1]) or 1
    if step[0] > 0.01 * planned:
        return None                     # a resumed run: its first records are no transient
    return int(step[min(len(step) - 1, max(5, len(step) // 50))])


def _spike_rows(step: np.ndarray, y: np.ndarray, phases: list[dict], z_limit: float,
                signed: bool, skip_before: int | None = None) -> tuple[list[dict], str] | None:
    """Outliers of one metric, judged within each phase (the switch to VAE-GAN moves every loss
    by design, and a block straddling it is not noise).

    All-positive series are judged upward on log10 (a spike is a ratio; 2x its level at least).
    Series that cross zero (the total, once d_weight*g_loss is negative) are judged both ways on
    asinh(y / median|y|): linear near zero, logarithmic in magnitude far from it, so a jump from
    -1.3k to -65k is as visible as one from 1.3k to 65k.
    """
    fin = np.isfinite(y)
    if fin.all():
        v, s = y, step
    elif fin.sum() < 20:
        return None
    else:
        v, s = y[fin], step[fin]
    if len(v) < 20:
        return None
    positive = bool(v.min() > 0)
    if positive:
        to, back, floor, name = np.log10, lambda m: 10 ** m, math.log10(2.0), "log10"
    elif signed:
        # the typical magnitude sets where asinh turns from linear to logarithmic: a median
        # over <= 20k evenly spaced rows is as good as one over all of them
        some = np.abs(v[:: max(1, len(v) // 20_000)])
        size = float(np.median(some)) or float(some.max()) or 1.0
        to, back, floor, name = (lambda x: np.arcsinh(x / size), lambda m: size * np.sinh(m),
                                 math.log(2.0), "asinh")
    else:
        to, back, floor, name = np.asarray, float, 0.5 * float(np.median(np.abs(v))), "linear"
    cuts = sorted({int(np.searchsorted(s, p["start_step"])) for p in phases} | {0, len(s)})
    items = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=False):
        if b - a < 20:
            continue
        rows, med, z = outliers(v[a:b], z_limit, floor, two_sided=signed and not positive,
                                scale=to)
        items += [{"step": int(s[a + i]), "value": float(v[a + i]),
                   "local_median": float(back(m)), "z": float(zi)}
                  for i, m, zi in zip(rows, med, z, strict=True)
                  if skip_before is None or s[a + i] >= skip_before]
    items.sort(key=lambda e: -abs(e["z"]))
    return items, name


def spikes(table: pd.DataFrame, phases: list[dict] | None = None, config: dict | None = None,
           z_limit: float = 10.0) -> list[dict]:
    """Outliers of the reconstruction-side losses, and of the total loss where they matter.

    The total is a weighted sum with an adversarial term that moves by design, so a spike in it
    is reported only when a reconstruction-side loss spikes at the same step (mirrored), or when
    nll + kl_weight*kl + d_weight*disc_factor*g_loss does not reproduce it (no logged term
    explains it: a term missing from the logs, or a logging fault); a spike that the
    adversarial term accounts for is the GAN at work.
    """
    phases, config = phases or [], config or {}
    out = []
    step = table["step"].to_numpy()
    spiked: dict[str, set[int]] = {}
    skip = _opening_transient_end(step, config)
    for name in _watched(table):
        found = _spike_rows(step, table[name].to_numpy(dtype="float64"), phases, z_limit, False,
                            skip)
        if not found or not found[0]:
            continue
        items, scale = found
        spiked[name] = {e["step"] for e in items}
        top = items[0]
        out.append(finding(
            "spike", "warning", name,
            f"{name} spikes {len(items)} time(s); the largest at step {_n(top['step'])}: "
            f"{_n(top['value'])} against a local median of {_n(top['local_median'])} "
            f"({top['value'] / top['local_median']:.1f}x, {top['z']:.0f} robust deviations). "
            "Single-batch spikes are usually a hard batch; repeated ones point at the learning rate "
            "or AMP.", count=len(items), spikes=items[:10], log_scale=scale == "log10"))
    total = find(table.columns, "total")
    if total is not None:
        out += _total_spikes(table, total, step, phases, config, spiked, z_limit, skip)
    return out


def _total_spikes(table: pd.DataFrame, name: str, step: np.ndarray, phases: list[dict],
                  config: dict, spiked: dict[str, set[int]], z_limit: float,
                  skip_before: int | None = None) -> list[dict]:
    found = _spike_rows(step, table[name].to_numpy(dtype="float64"), phases, z_limit, True,
                        skip_before)
    if not found or not found[0]:
        return []
    items, scale = found
    at = np.searchsorted(step, [e["step"] for e in items])
    loss = recompute_total(table, config, rows=at)
    kept = []
    for j, e in enumerate(items):
        e["mirrored_in"] = sorted(m for m, steps in spiked.items() if e["step"] in steps)
        if loss is not None:
            e["recomputed_total"] = float(loss["model"][j])
            e["residual"] = float(e["value"] - loss["model"][j])
            e["explained_by_terms"] = bool(abs(e["residual"]) <= loss["tol"][j])
        if e["mirrored_in"] or not e.get("explained_by_terms", False):
            kept.append(e)
    if not kept:
        return []
    top = kept[0]
    if top["mirrored_in"]:
        why = (f"the same step spikes in {', '.join(top['mirrored_in'])}: the total carries the "
               "reconstruction-side spike (see that finding)")
    elif "residual" in top:
        why = (f"its terms do not explain it: nll + kl_weight*kl + d_weight*disc_factor*g_loss "
               f"gives {_n(top['recomputed_total'])} at that step, so some term of the total is "
               "missing from the records or the logged total is wrong")
    else:
        why = "the records lack the terms (nll, d_weight, g_loss) that could explain it"
    ratio = (f"{top['value'] / top['local_median']:.1f}x, " if top["local_median"] else "")
    return [finding(
        "spike", "warning", name,
        f"{name} spikes {len(kept)} time(s); the largest at step {_n(top['step'])}: "
        f"{_n(top['value'])} against a local median of {_n(top['local_median'])} "
        f"({ratio}{abs(top['z']):.0f} robust deviations on an {scale} scale); {why}.",
        count=len(kept), spikes=kept[:10], log_scale=False, scale=scale,
        candidates=len(items))]


def divergence(table: pd.DataFrame, ratio_limit: float = 3.0) -> list[dict]:
    """A watched loss whose recent level is several times its best level, and still rising."""
    out = []
    step = table["step"].to_numpy()
    for name in _watched(table):
        if role_of(name) == "kl":
            continue   # the KL term rising is normal VAE behaviour, not divergence
        y = table[name].to_numpy(dtype="float64")
        fin = np.isfinite(y)
        if fin.sum() < 20:
            continue
        v, s = y[fin], step[fin]
        if not (v > 0).all():
            continue
        tail = max(5, len(v) // 10)
        recent = float(np.median(v[-tail:]))
        xs, level = block_medians(s[:-tail].astype(float), v[:-tail], blocks=50)
        if not len(level):
            continue
        best_i = int(np.argmin(level))
        best, best_step = float(level[best_i]), int(xs[best_i])
        if best <= 0:
            continue
        ratio = recent / best
        last_q = max(8, len(v) // 4)
        rising, info = direction(s[-last_q:], v[-last_q:])
        if ratio >= 10 or (ratio >= ratio_limit and rising == "increasing"):
            out.append(finding(
                "divergence", "critical", name,
                f"{name} is diverging: its recent level {_n(recent)} (median of the last {tail} "
                f"rows) is {ratio:.1f}x its best smoothed level {_n(best)} (around step "
                f"{_n(best_step)}) and it is {rising}. Stop and resume from a checkpoint before "
                f"step {_n(best_step)} with a lower learning rate.",
                recent_level=recent, best_level=best, best_step=best_step, ratio=ratio,
                trend_last_quarter=rising, from_step=int(s[-last_q])))
    return out


def plateau(table: pd.DataFrame, progress: float | None) -> list[dict]:
    """The main reconstruction loss no longer improving over the last quarter of the records."""
    name = next((n for n in (find(table.columns, r) for r in ("rec", "nll")) if n), None)
    y = _col(table, name)
    if y is None:
        return []
    step = table["step"].to_numpy()
    fin = np.isfinite(y)
    v, s = y[fin], step[fin]
    q = len(v) // 4
    if q < 20:
        return []
    label, info = direction(s[-q:], v[-q:], alpha=0.05, min_change=0.02)
    if label == "decreasing":
        return []
    xs, ys = block_medians(s[-q:].astype(float), v[-q:])
    level = float(np.median(ys))
    change = info.get("theil_sen_change") or 0.0
    msg = (f"{name} has plateaued: over the last {q:,} records (steps {_n(s[-q])}-{_n(s[-1])}) "
           f"its Theil-Sen change is {change / level * 100 if level else 0:+.1f}% of its level "
           f"{_n(level)} ({label}).")
    if progress is not None and progress < 0.98:
        msg += " More steps at this learning rate are unlikely to help much."
    return [finding("plateau", "info", name, msg, level=level, theil_sen_change=change,
                    from_step=int(s[-q]), to_step=int(s[-1]), trend=label,
                    p=info.get("p"))]


def _duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
