"""``discriminator_untrained``: the VAE-GAN phase runs, but nothing shows the discriminator being
trained.

RadioDiff's train_vae.py steps the discriminator only at gradient-accumulation index >= 1 and
logs its terms (disc_loss, logits_real, logits_fake) only then: with
``gradient_accumulate_every: 1`` (its published config) the discriminator keeps its random
initialisation for the whole VAE-GAN phase, and g_loss (-mean logit of that fixed network on
the reconstructions) hardly moves across the switch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from radiovae.analysis.discriminator import DiscriminatorFacts, judge
from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.fmt import num

ID = "discriminator_untrained"


def detect(ctx: Context) -> list[Finding]:
    gan = ctx.phase("vae_gan")
    cause = ctx.cause("accumulation_one")
    step = ctx.step
    in_gan = step >= gan["start_step"] if gan is not None else np.zeros(len(step), bool)
    if in_gan.sum() < 5:
        return _from_config(ctx, cause) if cause is not None else []
    disc_cols = [c for c in (ctx.name(r) for r in ("disc_loss", "logits_real", "logits_fake")) if c]
    if any(np.isfinite(ctx.col(c)[in_gan]).any() for c in disc_cols):
        return _not_learning(ctx, in_gan)   # its own terms are there: judge them
    ev: dict[str, Any] = {"vae_gan_rows": int(in_gan.sum()), "first_step": int(step[in_gan][0]),
                          "last_step": int(step[in_gan][-1]), "disc_columns": disc_cols}
    reasons = []
    if cause is not None:
        ev["gradient_accumulate_every"] = 1
        ev["cause"] = cause.id
    g = ctx.col("g_loss")
    if g is not None:
        before, after = g[~in_gan & np.isfinite(g)], g[in_gan & np.isfinite(g)]
        if len(before) >= 5 and len(after) >= 5:
            b, a = float(np.median(before)), float(np.median(after[-max(5, len(after) // 5):]))
            spread = float(np.median(np.abs(before - b))) or abs(b) or 1.0
            ev.update(g_loss_median_vae=b, g_loss_median_late_vae_gan=a,
                      g_loss_shift_in_mads=(a - b) / spread)
            if abs(a - b) <= 2 * spread:
                reasons.append(f"the generator's score from the discriminator, g_loss, has the "
                               f"same median over the VAE-phase records ({num(b)}) as over the "
                               f"last fifth of the VAE-GAN records ({num(a)}). The discriminator "
                               "it comes from is not changing")
    severity = "warning" if reasons or cause is not None else "info"
    msg = (f"the VAE-GAN phase has {ev['vae_gan_rows']:,} records (steps "
           f"{num(ev['first_step'])}-{num(ev['last_step'])}), and none holds a discriminator "
           "loss or logits")
    if cause is not None:
        msg += (". " + cause.text + (" " + reasons[0][:1].upper() + reasons[0][1:] + "."
                                     if reasons else "")
                + " So d_weight*g_loss pushes the decoder against a fixed random network, not a "
                "learned critic.")
    elif reasons:
        msg += (". " + ". ".join(r[:1].upper() + r[1:] for r in reasons)
                + ". The discriminator is most likely never trained. "
                "RadioDiff's train_vae.py steps and logs the discriminator only at accumulation "
                "index 1 and above, so a VAE-GAN phase with no discriminator line is what "
                "gradient_accumulate_every = 1 produces (the config is not in these records to "
                "confirm it). The adversarial term d_weight*g_loss then pushes the decoder "
                "against a fixed random network, not a learned critic.")
    else:
        msg += ": the discriminator's own progress cannot be judged from these records."
    return [finding(ID, severity, ctx.name("g_loss") or ctx.name("disc_factor"), msg,
                    span=(ev["first_step"], ev["last_step"]), **ev)]


def _from_config(ctx: Context, cause) -> list[Finding]:
    """No VAE-GAN records yet (or too few): the config alone says the discriminator will never
    be stepped once disc_start is reached."""
    start, planned = ctx.config.get("disc_start"), ctx.config.get("total_steps")
    if start is not None and planned is not None and start >= planned:
        return []                      # the plan never reaches the VAE-GAN phase
    when = f" from disc_start {int(start):,} on" if start is not None else ""
    msg = (f"the VAE-GAN phase is not in these records, but the discriminator will not train "
           f"there{when}: " + cause.text[:1].lower() + cause.text[1:])
    return [finding(ID, "warning", ctx.name("g_loss") or ctx.name("disc_factor"), msg,
                    gradient_accumulate_every=1, cause=cause.id, from_config=True)]


def facts(ctx: Context, in_gan: np.ndarray) -> DiscriminatorFacts:
    """The discriminator's own terms over the VAE-GAN rows (analysis.discriminator's rule),
    judged once per analysis (the finding and the summary both read them)."""
    key = ("discriminator", int(in_gan.sum()), int(np.argmax(in_gan)) if in_gan.any() else -1)
    if key not in ctx.memo:
        ctx.memo[key] = judge(ctx.step, in_gan, ctx.col("disc_loss"), ctx.col("logits_real"),
                              ctx.col("logits_fake"))
    return ctx.memo[key]


def _not_learning(ctx: Context, in_gan: np.ndarray) -> list[Finding]:
    """The discriminator's terms are logged, but they show no learning
    (:func:`radiovae.analysis.discriminator.judge`: at chance)."""
    d = facts(ctx, in_gan)
    if d.state != "at_chance":
        return []
    med, med_late = d.disc_loss_median, d.disc_loss_median_second_half
    gap, gap_late = d.logit_gap_median, d.logit_gap_median_second_half
    flat = max(gap, gap_late) < 0.05
    ev = {"vae_gan_rows": d.rows, "first_step": d.first_step, "last_step": d.last_step,
          "disc_loss_median": med, "disc_loss_median_second_half": med_late,
          "logit_gap_median": gap, "logit_gap_median_second_half": gap_late}
    msg = (f"the discriminator's terms show no sign of learning over the {d.rows:,} VAE-GAN "
           f"records (steps {num(d.first_step)}-{num(d.last_step)}). disc_loss stays at "
           f"{num(med)} (second half {num(med_late)}), the hinge loss of a discriminator at "
           f"chance. Its logits on real and reconstructed maps "
           + ("do not separate" if flat else "barely separate, and the gap does not widen")
           + f" (median gap {num(gap)}, second half {num(gap_late)}). ")
    ga = ctx.config.get("gradient_accumulate_every")
    if ga is not None and int(ga) >= 2:
        # RadioDiff writes the discriminator's line right after opt_disc.step(): it is stepped
        ev["stepped"] = True
        lr = _lr_range(ctx, ev["first_step"], ev["last_step"])
        msg += ("It is stepped (gradient_accumulate_every is " + f"{int(ga)}" + ", and RadioDiff "
                "logs this line right after opt_disc.step()), yet it does not learn: check that "
                "its parameters are in opt_disc, and its learning rate"
                + (f" ({num(lr[0])} at the switch, {num(lr[1])} at the end)" if lr else "")
                + ".")
    else:
        msg += ("Its weights are most likely not being updated (or its learning rate is far too "
                "low).")
    msg += " So d_weight*g_loss pushes the decoder against a near-fixed network."
    return [finding(ID, "warning", ctx.name("disc_loss"), msg,
                    span=(ev["first_step"], ev["last_step"]), **ev)]


def _lr_range(ctx: Context, a: int, b: int) -> tuple[float, float] | None:
    """The lr RadioDiff's schedule gives at steps a and b (the lr_schedule cause's rule)."""
    from radiovae.analysis.causes import lr_at  # causes import this package: no cycle at load

    sched = ctx.cause("lr_schedule")
    return None if sched is None else (lr_at(sched.config_evidence, a),
                                       lr_at(sched.config_evidence, b))


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    if f.evidence.get("cause") == "accumulation_one":
        return ("Set trainer.gradient_accumulate_every to 2 (RadioDiff's published config) so "
                "that pass 1 steps the discriminator, and resume from a checkpoint before "
                "disc_start (or retrain the VAE-GAN phase).")
    if "disc_loss_median" in f.evidence:
        return ("Check that the discriminator's optimizer holds its parameters"
                + ("" if f.evidence.get("stepped") else " and is stepped after disc_start")
                + ", and its learning rate: its loss stays at chance and the gap between its "
                "logits on real and reconstructed maps does not widen.")
    return ("Check the run's trainer.gradient_accumulate_every: with 1, RadioDiff's "
            "train_vae.py never steps the discriminator. Set it to 2 (RadioDiff's published "
            "config) and resume from a checkpoint before disc_start; the discriminator's line "
            "(disc_loss, logits_real, logits_fake) then appears in the log.")
