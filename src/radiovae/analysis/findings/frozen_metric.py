"""``frozen_metric``: a logged quantity that never changes (RadioDiff's logvar, left out of the
autoencoder's optimizer, is the common case)."""

from __future__ import annotations

import math

import numpy as np

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.analysis.names import role_of
from radiovae.fmt import num

ID = "frozen_metric"
_DISC_TERMS = ("disc_loss", "logits_real", "logits_fake", "g_loss")


def detect(ctx: Context) -> list[Finding]:
    out = []
    step = ctx.step
    for name in ctx.metric_columns:
        role = role_of(name)
        if role in ("lr", "disc_factor", "d_weight"):
            continue   # lr_zero, the phases and weight_saturated say more
        if role == "loss_vlb" and not np.nanmax(np.abs(ctx.col(name)), initial=0.0):
            continue   # ddm_const_sde.py sets loss_vlb = 0: by design
        y, st = ctx.col(name), step
        if role in _DISC_TERMS:
            # the discriminator's terms are 0 / absent before disc_start by design: judge them
            # on the VAE-GAN rows only, and not at all before that phase is reached
            gan = ctx.phase("vae_gan")
            if gan is None:
                continue
            keep = step >= gan["start_step"]
            y, st = y[keep], step[keep]
        if len(y) < 5 or y[0] != y[-1]:        # cheap reject first: most metrics move
            continue
        fin = np.isfinite(y)
        if fin.sum() < 5 or np.ptp(y[fin]) != 0:
            continue
        value = float(y[fin][0])
        ev = {"value": value, "rows": int(fin.sum()), "first_step": int(st[fin][0]),
              "last_step": int(st[fin][-1])}
        span = (ev["first_step"], ev["last_step"])
        if role == "logvar":
            cause = ctx.cause("logvar_by_design") or ctx.cause("logvar_meant_to_train")
            severity = cause.severity if cause is not None else "warning"
            msg = (f"{name} is {num(value)} in every one of {ev['rows']:,} rows (steps "
                   f"{num(ev['first_step'])}-{num(ev['last_step'])}): "
                   + (cause.text[:1].lower() + cause.text[1:] if cause is not None else
                      "the learned log-variance is not being optimized, so the NLL is a fixed "
                      "multiple of the reconstruction loss."))
            if cause is not None:
                ev["cause"] = cause.id
            ratio = _nll_over_rec(ctx)
            if ratio is not None:
                ev["nll_over_rec"] = ratio
                msg += f" (nll / rec = {num(ratio)} in the median row"
                side = math.sqrt(ratio) if ratio > 0 else 0
                if value == 0 and side and abs(side - round(side)) < 0.01 * side:
                    ev["pixels"] = int(round(side)) ** 2
                    msg += f" = {int(round(side))}x{int(round(side))} pixels)"
                else:
                    msg += ")"
            out.append(finding(ID, severity, name, msg, span=span, **ev))
        else:
            out.append(finding(ID, "warning", name,
                               f"{name} never changes: {num(value)} in all {ev['rows']:,} rows; "
                               "it is not being updated, or not being logged correctly.",
                               span=span, **ev))
    return out


def _nll_over_rec(ctx: Context) -> float | None:
    nll, rec = ctx.col("nll"), ctx.col("rec")
    if nll is None or rec is None:
        return None
    some = slice(None, None, max(1, len(nll) // 20_000))   # a median of a ratio needs no more rows
    nll, rec = nll[some], rec[some]
    ok = np.isfinite(nll) & np.isfinite(rec) & (rec > 0)
    return float(np.median(nll[ok] / rec[ok])) if ok.any() else None


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    if f.evidence.get("cause") == "logvar_by_design":
        return None          # the published design: nothing to fix
    if f.evidence.get("cause") == "logvar_meant_to_train":
        return ("The config asks for a learned logvar (train_logvar: true), but it never moves: "
                "check that `loss.logvar` is in the autoencoder optimizer's parameters.")
    if role_of(f.metric or "") == "logvar":
        return ("Decide whether the NLL weighting should be learned. If yes, put the loss's "
                "`logvar` in the autoencoder optimizer (e.g. `list(model.parameters()) + "
                "[loss.logvar]`; this departs from RadioDiff's and latent-diffusion's published "
                "training). If not, it is a fixed weight (NLL = pixels x rec_loss) and logging it "
                "as if learned says nothing.")
    return f"Check that `{f.metric}` is computed from live values: it never changes."
