"""``lr_zero``: the learning rate logged as 0. RadioDiff prints it with ``{:.5f}``, so an lr below
5e-6 reads 0.00000 in its text log (and in CSVs parsed from it); full-precision records do not."""

from __future__ import annotations

from typing import Any

import numpy as np

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.analysis.stats import MIN_RECORDS, window_medians
from radiovae.fmt import num
from radiovae.runlog.formats import is_printed

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
    # a loss whose level moves (window medians, not batch noise) shows the weights updating
    level = {n: _level_change(ctx.col(n)[zero]) for n in others}
    changes = {n: c for n, c in level.items() if c is not None and abs(c) >= MOVES}
    moving = list(changes)
    ev["metrics_still_changing"] = moving
    ev["level_change_pct"] = {n: 100 * c for n, c in changes.items()}
    # too few records to tell a moving loss from noise: never "the weights do not move"
    unknown = bool(others) and all(c is None for c in level.values())
    ev["too_few_to_tell"] = unknown
    if zero[fin].all():
        base = f"{name} is logged as 0 in all {ev['rows']:,} rows"
        cfg = config.get("lr")
        if not _printed(ctx):                             # full-precision records
            ev["full_precision"] = True
            msg = (f"{base} of full-precision records: the learning rate really is 0, so the "
                   "schedule is broken" + (f" (yet {', '.join(moving)} change: check what "
                                           "updates the weights)." if moving else
                                           " (too few records to tell whether the weights "
                                           "move)." if unknown else
                                           " and the weights do not move."))
            return _one("warning" if moving or unknown else "critical", name, msg, ev)
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
                msg = (f"{base}: print precision, not a broken schedule. The configured lr "
                       f"{float(cfg):g}{decay} prints as {printed} with RadioDiff's {{:.5f}}, as "
                       "any lr below 5e-6 does." + (f" Meanwhile {_keep(changes)}: the weights "
                                                    "are being updated." if moving else "") +
                       " Log lr in scientific notation to see it.")
                return _one("info", name, msg, ev)
            sev = "warning" if moving or unknown else "critical"
            msg = (f"{base}, yet the configured lr {float(cfg):g} would print as {printed} at step "
                   f"{num(s0)}: the schedule or the lr logging is broken" +
                   (f" (the losses {', '.join(moving)} still change, so something updates the "
                    "weights)." if moving else " (too few records to tell whether the weights "
                    "move)." if unknown else "; nothing else changes either, so lr really is 0 "
                    "and the weights do not move."))
            return _one(sev, name, msg, ev)
        ev["configured_lr_unknown"] = True
        if unknown:
            msg = (f"{base}: too few records (under {MIN_RECORDS}) to tell whether the losses "
                   "move, so a real lr of 0 and RadioDiff's {:.5f} printing (any lr below 5e-6 "
                   "reads 0.00000) cannot be told apart.")
            return _one("info", name, msg, ev)
        if not moving:
            msg = (f"{base}, and no loss changes either: the learning rate most likely really is "
                   "0 (a broken schedule), and the weights do not move.")
            return _one("critical", name, msg, ev)
        msg = (f"{base}, while {_keep(changes)}, so the weights are being updated. "
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
                   f"({ev['zero_rows']:,} rows) while {_keep(changes)}"
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


MOVES = 0.05     # a level change of 5 % between the first and the last tenth of the records


def _level_change(y: np.ndarray) -> float | None:
    """Relative change between the medians of the first and the last tenth (None: too few)."""
    if np.isfinite(y).sum() < MIN_RECORDS:
        return None
    a, b, _ = window_medians(y)
    return (b - a) / abs(a) if a else None


def _keep(changes: dict[str, float]) -> str:
    """'a moves (-64 %)' / 'a (-64 %) and b (+14 %) move': the losses whose level moves."""
    parts = [f"{n} ({100 * c:+.0f} %)" for n, c in changes.items()]
    return (f"{parts[0]} moves" if len(parts) == 1 else
            ", ".join(parts[:-1]) + f" and {parts[-1]} move") + (
        " between the first and the last tenth of the records")


def _printed(ctx: Context) -> bool:
    """Were the values printed with few decimals (RadioDiff's text log and its parsed CSV)?"""
    return ctx.decimals is not None or any(is_printed(f) for f in ctx.formats) \
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
