"""Causes: what in the run's configuration (or its trainer's design) makes the records look as
they do, each stated once with its evidence in the config and in the records, and the findings
and answers it explains.

A finding says *what* the records show; a cause says *why*. The finding kinds and the answers
read ``ctx.causes`` (in the summary: ``summary["causes"]``) instead of re-deriving a reason, so a
cause is worded in one place. A cause known from the config alone (gradient_accumulate_every 1)
is certain: it still counts when the records are too few to judge a trend.

A new cause is one function below that returns a :class:`Cause` or None, and one line in CAUSES.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from radiovae.analysis.findings.base import Context
from radiovae.fmt import num

_DISC_TERMS = ("disc_loss", "logits_real", "logits_fake")
LDM_D_WEIGHT_CAP = 1e4   # latent-diffusion's clamp of the gradient ratio (RadioDiff keeps it)


@dataclass
class Cause:
    id: str
    severity: str                 # info | warning | critical: what it means for the run
    text: str                     # one sentence: the mechanism, with its numbers
    config_evidence: dict[str, Any] = field(default_factory=dict)
    record_evidence: dict[str, Any] = field(default_factory=dict)
    explains: list[str] = field(default_factory=list)   # finding / answer ids
    certain: bool = True          # read from the config or the code, not inferred from a trend

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _disc_logged(ctx: Context) -> bool:
    cols = [ctx.col(r) for r in _DISC_TERMS]
    return any(c is not None and np.isfinite(c).any() and np.nanmax(np.abs(c)) > 0 for c in cols)


def accumulation_one(ctx: Context) -> Cause | None:
    """RadioDiff's train_vae.py (and radiovae's trainer, which keeps its meaning) step the
    discriminator only at accumulation index >= 1: with gradient_accumulate_every 1 never."""
    ga = ctx.config.get("gradient_accumulate_every")
    if ga is None or int(ga) != 1 or ctx.kind not in ("vae", "unknown"):
        return None
    logged = _disc_logged(ctx)
    rec = {"discriminator_terms_logged": logged}
    gan = ctx.phase("vae_gan")
    if gan is not None:
        rec["vae_gan_from_step"] = gan["start_step"]
    text = ("The config sets gradient_accumulate_every = 1. RadioDiff's train_vae.py steps the "
            "discriminator only at accumulation index 1 and above, so its optimizer never runs "
            "and it keeps its random weights.")
    if not logged:
        text += " No discriminator line (disc_loss, logits) is logged, which agrees."
    return Cause("accumulation_one", "warning", text,
                 {"gradient_accumulate_every": int(ga)}, rec,
                 ["discriminator_untrained", "discriminator_working"])


def logvar_by_design(ctx: Context) -> Cause | None:
    """A logvar constant at its start value: left out of the optimizer by design in RadioDiff and
    latent-diffusion; only a run that meant to train it (radiovae's train_logvar) is at fault."""
    y = ctx.col("logvar")
    if y is None:
        return None
    fin = y[np.isfinite(y)]
    if len(fin) < 2 or np.ptp(fin) != 0:
        return None
    meant = ctx.config.get("train_logvar")
    if meant is True:
        return Cause("logvar_meant_to_train", "warning",
                     f"The config sets train_logvar: true, yet logvar is {num(float(fin[0]))} in "
                     "every record: it is not reaching the optimizer.",
                     {"train_logvar": True}, {"value": float(fin[0]), "rows": int(len(fin))},
                     ["frozen_metric"])
    how = ("radiovae's train_logvar: false leaves it out of the optimizer" if meant is False else
           "RadioDiff's train_vae.py (like latent-diffusion's AutoencoderKL) gives the optimizer "
           "only the encoder, decoder, quant_conv and post_quant_conv, not loss.logvar")
    return Cause("logvar_by_design", "info",
                 f"logvar stays at {num(float(fin[0]))} by design: {how}. The NLL is then a fixed "
                 "multiple of the reconstruction loss.",
                 {"train_logvar": meant}, {"value": float(fin[0]), "rows": int(len(fin))},
                 ["frozen_metric"])


def lr_schedule(ctx: Context) -> Cause | None:
    """RadioDiff's LambdaLR: lr * max((1 - i / N) ** p, min_lr), p = 0.95 in train_vae.py and
    0.96 in train_cond_ldm.py: min_lr floors the *factor*, so the lr's own floor is lr * min_lr,
    not min_lr (radiovae's min_lr_mode says which its own runs used)."""
    lr, total, min_lr = ctx.cfg("lr"), ctx.config.get("total_steps"), ctx.cfg("min_lr")
    if lr is None or not total or min_lr is None or ctx.kind not in ("vae", "ldm"):
        return None
    power, script = (0.96, "train_cond_ldm.py") if ctx.kind == "ldm" else (0.95, "train_vae.py")
    mode = ctx.config.get("min_lr_mode", "radiodiff")
    last = int(ctx.step[-1]) if len(ctx.step) else 0
    schedule = {"lr": lr, "min_lr": min_lr, "total_steps": total, "min_lr_mode": mode,
                "power": power}
    implied = lr_at(schedule, last)
    rec: dict[str, Any] = {"last_step": last, "implied_lr_at_last_step": implied}
    logged = ctx.col("lr")
    if logged is not None and np.isfinite(logged).any():
        rec["logged_lr_at_last_step"] = float(logged[np.isfinite(logged)][-1])
    if mode == "radiodiff":
        text = (f"RadioDiff's {script} schedule is lr x max((1 - step/{total:,})^{power:g}, "
                f"min_lr): min_lr {num(min_lr)} floors the factor, so the lr's floor is "
                f"{num(lr * min_lr)}, not {num(min_lr)}. At step {last:,} it implies an lr of "
                f"{num(implied)}.")
    else:
        text = (f"radiovae's schedule is max(lr x (1 - step/{total:,})^{power:g}, min_lr) "
                f"(min_lr_mode absolute): at step {last:,} it implies an lr of {num(implied)}.")
    return Cause("lr_schedule", "info", text, schedule, rec, ["lr_zero", "lr"])


def lr_at(schedule: dict[str, Any], step: int) -> float:
    """The lr the lr_schedule cause's rule gives at ``step`` (its config_evidence)."""
    total = schedule["total_steps"]
    decay = max(1 - min(step, total) / total, 0.0) ** schedule["power"]
    lr, floor = schedule["lr"], schedule["min_lr"]
    return lr * max(decay, floor) if schedule["min_lr_mode"] == "radiodiff" else \
        max(lr * decay, floor)


def infer_cap(d: np.ndarray) -> float | None:
    """A d_weight cap read from the records alone: the most common positive value, when it is
    also the maximum and a round number (1, 2, 2.5 or 5 times a power of ten)."""
    fin = np.isfinite(d)
    on = fin & (d > 0)                  # d_weight is 0 where the discriminator is off
    if on.sum() < 5:
        return None
    vals, counts = np.unique(d[on], return_counts=True)
    cap = float(vals[np.argmax(counts)])
    scale = 10.0 ** math.floor(math.log10(cap)) if cap > 0 else 0.0   # 0 for denormals
    mant = cap / scale if scale > 0 else 0
    if cap == d[fin].max() and any(abs(mant - m) < 1e-9 for m in (1, 2, 2.5, 5)):
        return cap
    return None


def d_weight_rule(ctx: Context) -> Cause | None:
    """Which adaptive-weight rule and cap the run used: the cap is what "pinned" is judged by."""
    d = ctx.col("d_weight")
    if d is None or ctx.kind != "vae":
        return None
    dw = ctx.cfg("disc_weight")
    rule = ctx.config.get("adaptive_weight", "radiodiff")
    ratio_cap = ctx.cfg("d_weight_max") or LDM_D_WEIGHT_CAP
    cfg: dict[str, Any] = {"adaptive_weight": rule, "disc_weight": dw, "d_weight_max": ratio_cap}
    explains = ["weight_saturated", "adaptive_weight"]
    if rule == "per_pixel":
        text = ("The run uses radiovae's per-pixel adaptive weight: the cap applies to the ratio "
                "of the per-pixel NLL gradient to the adversarial one, so d_weight can exceed "
                f"{num(ratio_cap)} x disc_weight on large maps and pins only when that ratio hits "
                f"{num(ratio_cap)}.")
        cap = infer_cap(d)
        if cap is not None:
            cfg["cap"] = cap             # its ceiling, read from the records
        return Cause("d_weight_rule", "info", text, cfg, {"cap_from_records": cap is not None},
                     explains)
    head = (f"RadioDiff's adaptive weight is disc_weight x clamp(|grad nll| / |grad g_loss|, 0, "
            f"{num(ratio_cap)})")
    if dw is not None:
        cfg["cap"] = dw * ratio_cap
        return Cause("d_weight_rule", "info", f"{head}, so its cap is {num(cfg['cap'])} "
                     f"(disc_weight {num(dw)}).", cfg, {}, explains)
    cap = infer_cap(d)
    if cap is None:
        return Cause("d_weight_rule", "info", f"{head}; disc_weight is not in these records, "
                     "and no constant ceiling in d_weight shows the cap.", cfg, {}, explains)
    cfg["cap"] = cap
    return Cause("d_weight_rule", "info", f"{head}. disc_weight is not in these records, but "
                 f"d_weight's most common value is also its maximum, the round {num(cap)}: the "
                 f"cap for disc_weight {num(cap / ratio_cap)}.", cfg,
                 {"cap_from_records": True}, explains)


CAUSES: tuple[Callable[[Context], Cause | None], ...] = (
    accumulation_one, logvar_by_design, lr_schedule, d_weight_rule)


def find_causes(ctx: Context) -> list[Cause]:
    return [c for c in (f(ctx) for f in CAUSES) if c is not None]
