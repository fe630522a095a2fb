"""``lr_zero``: the learning rate logged as 0. RadioDiff prints it with ``{:.5f}``, so an lr below
5e-6 reads 0.00000 in its text log (and in CSVs parsed from it); full-precision records do not."""

from __future__ import annotations

from typing import Any

import numpy as np

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.fmt import num

ID = "lr_zero"


def detect(ctx: Context) -> list[Finding]:
    name, config, fmt = ctx.name("lr"), ctx.config, ctx.formats
    lr = ctx.col(name)
    if lr is None:
        return []
    fin = np.isfinite(lr)
    zero = fin & (lr == 0)
    if not zero.any():
        return []
    step = ctx.step
    ev: dict[str, Any] = {"zero_rows": int(zero.sum()), "rows": int(fin.sum()),
                          "first_zero_step": int(step[zero][0]),
                          "configured_lr": config.get("lr"), "formats": sorted(fmt)}
    # the losses that show whether the optimizer steps (stage 2 has loss_simple, not rec / nll / kl)
    others = [n for n in (ctx.name(r) for r in ("rec", "nll", "kl", "loss_simple")) if n]
    moving = [n for n in others if np.ptp(np.nan_to_num(ctx.col(n)[zero])) > 0]
    ev["metrics_still_changing"] = moving
    if zero[fin].all():
        base = f"{name} is logged as 0 in all {ev['rows']:,} rows"
        cfg = config.get("lr")
        if not _printed(ctx):                             # full-precision records
            ev["full_precision"] = True
            msg = (f"{base} of full-precision records: the learning rate really is 0, so the "
                   "schedule is broken" + (f" (yet {', '.join(moving)} change: check what "
                                           "updates the weights)." if moving else
                                           " and the weights do not move."))
            return _one("warning" if moving else "critical", name, msg, ev)
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
                         f"{predicted:.2g} at step {num(s0)}," if factor < 1 else "")
                msg = (f"{base}. Print precision, not a broken schedule: the configured lr "
                       f"{float(cfg):g}{decay} prints as {printed} with RadioDiff's {{:.5f}} (any lr "
                       "below 5e-6 does)" + (f", and {_keep(moving)} changing, so the "
                                             "optimizer is stepping" if moving else "") +
                       ". Log lr in scientific notation to see it.")
                return _one("info", name, msg, ev)
            sev = "warning" if moving else "critical"
            msg = (f"{base}, yet the configured lr {float(cfg):g} would print as {printed} at step "
                   f"{num(s0)}: the schedule or the lr logging is broken" +
                   (f" (the losses {', '.join(moving)} still change, so something updates the "
                    "weights)." if moving else "; nothing else changes either, so lr really is 0 "
                    "and the weights do not move."))
            return _one(sev, name, msg, ev)
        ev["configured_lr_unknown"] = True
        if not moving:
            msg = (f"{base}, and no loss changes either: the learning rate most likely really is "
                   "0 (a broken schedule), and the weights do not move.")
            return _one("critical", name, msg, ev)
        msg = (f"{base}, while {_keep(moving)} changing, so the optimizer is stepping. "
               "RadioDiff prints lr with {:.5f}, which shows any lr below 5e-6 (such as its "
               "configs' 5e-6 once the schedule decays it) as 0.00000. Print precision explains "
               "it. Without the run's config the configured schedule could not be checked "
               "against it.")
        return _one("info", name, msg, ev)
    first = ev["first_zero_step"]
    if np.all(zero[fin][np.argmax(zero[fin]):]):
        if _printed(ctx) and moving:
            before = lr[fin & ~zero & (step < first)]
            if before.size:
                ev["last_nonzero_lr"] = float(before[-1])
            msg = (f"{name} falls to 0 at step {num(first)} and stays there "
                   f"({ev['zero_rows']:,} rows) while {_keep(moving)} changing"
                   + (f" (the last value printed before it: {num(float(before[-1]))})"
                      if before.size else "")
                   + ": the decaying lr has dropped below what {:.5f} prints (5e-6), "
                   "print precision, not the end of the schedule.")
            return _one("info", name, msg, ev)
        msg = (f"{name} falls to 0 at step {num(first)} and stays there ({ev['zero_rows']:,} "
               "rows): the schedule ends before training does.")
        return _one("warning", name, msg, ev)
    msg = f"{name} is logged as 0 in {ev['zero_rows']:,} of {ev['rows']:,} rows (first at step {num(first)})."
    return _one("info", name, msg, ev)


def _keep(names: list[str]) -> str:
    """'a keeps' / 'a, b keep': the metrics that still change, as the subject of a sentence."""
    return f"{', '.join(names)} {'keeps' if len(names) == 1 else 'keep'}"


def _printed(ctx: Context) -> bool:
    """Were the values printed with few decimals (RadioDiff's text log and its parsed CSV)?"""
    return ctx.decimals is not None or bool(ctx.formats & {"radiodiff_log", "csv"}) \
        or not ctx.formats


def _one(severity: str, name: str, msg: str, ev: dict[str, Any]) -> list[Finding]:
    return [finding(ID, severity, name, msg, steps=[ev["first_zero_step"]], **ev)]


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    if f.severity != "info" and "full_precision" in f.evidence:
        return (f"Check the lr schedule and the optimizer: `{f.metric}` is exactly 0 in "
                "full-precision records.")
    lr = ctx.cfg("lr")
    return ("Log the learning rate with `%g` (or `{:.3e}`) instead of `{:.5f}`, so that "
            "an lr below 5e-6 (which {:.5f} prints as 0.00000) is visible; then confirm the schedule"
            + (f" against the config's lr = {num(lr)}." if lr is not None else "."))
