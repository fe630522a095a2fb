"""Direct answers to the questions a RadioDiff researcher asks of a run, each yes / no / unclear
with its evidence, built from the findings and statistics alone (never from a second reading of
the table), so that no answer can disagree with a finding. Also the report's confidence.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from radiovae.analysis.discriminator import CLEAR_GAP, WINS_LOSS
from radiovae.analysis.findings.base import Finding
from radiovae.analysis.readiness import readiness
from radiovae.analysis.schema import Answer, Confidence, MetricStats, Summary
from radiovae.fmt import num

YES, NO, UNCLEAR = "yes", "no", "unclear"


def _a(id: str, question: str, answer: str, text: str, findings: list[str] | None = None,
       **evidence: Any) -> Answer:
    return Answer(id, question, answer, text, findings or [], evidence)


def _of(found: list[Finding], *ids: str,
        severity: tuple[str, ...] = ("info", "warning", "critical")) -> list[Finding]:
    return [f for f in found if f.id in ids and f.severity in severity]


def _names(fs: list[Finding]) -> str:
    return ", ".join(f"{f.id}" + (f" ({f.metric})" if f.metric else "") for f in fs)


def _main_loss(s: Summary) -> tuple[str | None, MetricStats | None]:
    roles = s.roles
    for role in ("rec", "nll", "loss_simple", "total"):   # the reconstruction / denoising loss
        name = roles.get(role)
        if name and name in s.metrics:
            return name, s.metrics[name]
    return None, None


def answers(s: Summary) -> list[Answer]:
    """The direct questions (point by point), in the order the report asks them."""
    vae = s.kind == "vae"
    out = [training_working(s), loss_values(s)]
    if vae:
        out += [a for a in (kl_growth(s), discriminator_working(s), ready_for_stage2(s)) if a]
    return out


def training_working(s: Summary) -> Answer:
    q = "Is the training working?"
    found = s.findings
    crit = _of(found, *{f.id for f in found}, severity=("critical",))
    name, m = _main_loss(s)
    if crit:
        return _a("training_working", q, NO, f"No: {len(crit)} critical finding(s): "
                  f"{_names(crit)}.", [f.id for f in crit])
    if not m:
        return _a("training_working", q, UNCLEAR, "Unclear: these records hold no loss to judge "
                  "it by.")
    if _too_short(s):
        return _a("training_working", q, UNCLEAR, f"Unclear: {_short_text(s)}.", metric=name)
    change = _change_text(m)
    warn = _of(found, *{f.id for f in found}, severity=("warning",))
    caveat = (f" Read the warning(s) too ({_names(warn)}): this answer is about the loss alone."
              if warn else "")
    if m.trend == "decreasing":
        since = _since(m)
        verb = "fell" if since is not None else "falls"
        return _a("training_working", q, YES, f"Yes: `{name}` {verb}, {change}, and no finding "
                  f"is critical.{caveat}", [f.id for f in warn], metric=name,
                  trend=m.trend)
    plateau = [f for f in _of(found, "plateau") if f.metric == name]
    if plateau:
        return _a("training_working", q, UNCLEAR, f"Unclear: `{name}` ({change}) has stopped "
                  f"improving (plateau).{caveat}", ["plateau"], metric=name, trend=m.trend)
    return _a("training_working", q, UNCLEAR, f"Unclear: `{name}` is {m.trend} "
              f"({change}), not falling.{caveat}", [f.id for f in warn], metric=name,
              trend=m.trend)


def _since(m: MetricStats) -> int | None:
    """The step from which the metric has levelled off (stats.trend), if it has."""
    return m.trend_test.levelled_since if m.trend_test is not None else None


def _change_text(m: MetricStats) -> str:
    """A metric's change between robust windows (medians of the first and the last tenth of its
    records), with where its trend stands: the same numbers as the statistics table."""
    a, b, w = m.start_median, m.end_median, m.window
    text = (f"from a median of {num(a)} over its first {w:,} records to {num(b)} over its last "
            f"{w:,}" if w else f"from {num(a)} to {num(b)}")
    if m.change_pct is not None:
        text += f" ({m.change_pct:+.1f} %)"
    if _since(m) is not None:
        pct = m.trend_test.since_change_pct
        text += f", level since step {_since(m):,}" + (
            f" ({pct:+.1f} % since)" if pct is not None else "")
    return text


def _too_short(s: Summary) -> bool:
    return s.judged_records.too_short


def _short_text(s: Summary) -> str:
    j = s.judged_records
    return (f"only {j.records} records, too few (under {j.min_records}) to tell "
            "a trend from noise")


def loss_values(s: Summary) -> Answer:
    q = "Are the loss values acceptable?"
    found = s.findings
    bad = _of(found, "non_finite", "divergence", "spike", severity=("warning", "critical"))
    loss = s.loss
    parts = []
    if loss.adds_up is True:
        parts.append("the logged terms add up to the logged total in every record")
    elif loss.adds_up is False:
        att = loss.attribution or {}
        parts.append("the terms do not add up to the total in "
                     f"{loss.rows_not_adding_up:,} record(s) ("
                     + ", ".join(f"{k.replace('_', ' ')}: {v:,}" for k, v in att.items()) + ")")
    neg = _of(found, "negative_total_loss")
    if neg:
        parts.append("the negative total is explained by its terms" if neg[0].severity == "info"
                     else "the negative total is not explained by the logged terms")
    quality = ""   # held-out quality is the readiness answer's, against its bars
    if any(f.severity == "critical" for f in bad):
        return _a("loss_values", q, NO, f"No: {_names(bad)}.", [f.id for f in bad])
    if _too_short(s):
        return _a("loss_values", q, UNCLEAR, f"Unclear: {_short_text(s)}"
                  + ("; " + "; ".join(parts) if parts else "") + ".")
    unexplained = (loss.attribution or {}).get("unexplained") or (
        neg and neg[0].severity != "info")
    if bad or unexplained:
        return _a("loss_values", q, UNCLEAR, "Unclear: " + "; ".join(
            [_names(bad)] * bool(bad) + parts) + "." + quality, [f.id for f in bad])
    name, m = _main_loss(s)
    level = f" `{name}` ends at {num(m.last_smoothed)} (smoothed)." if m else ""
    adversarial = _of(found, "discriminator_untrained", "weight_saturated",
                      severity=("warning", "critical"))
    if adversarial and s.kind == "vae":
        # the reconstruction terms may be fine, but the total carries a term that does not work
        # as designed: not a yes
        return _a("loss_values", q, UNCLEAR, "Unclear: " + "; ".join(parts) + ". But the "
                  "adversarial term d_weight·g_loss in the total does not work as designed ("
                  + _names(adversarial) + "): judge the reconstruction by rec_loss, not the "
                  "total." + level + quality, [f.id for f in adversarial])
    if s.kind != "vae":
        return _a("loss_values", q, YES if m else UNCLEAR,
                  ("Yes as far as faults go: no non-finite value, spike or divergence. Whether "
                   "its level is good shows only in metrics of sampled maps."
                   if m else "Unclear: no loss in the records.") + level)
    if s.evaluation is None:
        return _a("loss_values", q, YES if parts else UNCLEAR,
                  ("Yes, as far as the records show: " if parts else "Unclear: ")
                  + ("; ".join(parts) + ", with no non-finite value, spike or divergence."
                     if parts else "no non-finite value, spike or divergence, but the records "
                     "lack the terms to check the total.") + level
                  + " What they say about reconstruction quality on held-out maps needs an "
                  "evaluation.")
    return _a("loss_values", q, YES, "Yes: " + ("; ".join(parts) + "; " if parts else "")
              + "no non-finite value, spike or divergence." + level + quality)


def kl_growth(s: Summary) -> Answer | None:
    q = "Should the KL growth worry us?"
    name = s.roles.get("kl")
    m = s.metrics.get(name) if name else None
    if not m:
        return None
    loss = s.loss
    kw = loss.kl_weight
    if _too_short(s):
        return _a("kl_growth", q, UNCLEAR, f"Unclear: {_short_text(s)}.", metric=name)
    share = loss.kl_share_of_nll
    weight = (f" kl_weight·KL ≈ {num(loss.kl_term_latest)} is {100 * share:.2g} % of the "
              "NLL." if share is not None and loss.kl_term_latest is not None else "")
    since = _since(m)
    if m.trend == "increasing" and since is not None:
        return _a("kl_growth", q, NO, f"No: the KL rose ({_change_text(m)}), and its growth "
                  f"has all but stopped.{weight}", metric=name, levelled_since=since)
    if m.trend != "increasing":
        first, last = m.first, m.end_median
        rose = first is not None and last is not None and last > first * 1.5 and last - first > 0
        # a KL that rose early (the posterior leaving the prior) and then levelled off is not
        # growing now: say both, never "does not grow" beside a 200x rise
        return _a("kl_growth", q, NO, (
            f"No: the KL rose early (from {num(first)} at its first record to a median of "
            f"{num(last)} over its last {m.window or 0:,} records) but is no longer "
            f"growing: the trend over the run's block medians is {m.trend}.{weight}"
            if rose else
            f"No: the KL does not grow (trend {m.trend}, {_change_text(m)}).{weight}"),
            metric=name)
    if kw is None or share is None:
        return _a("kl_growth", q, UNCLEAR, f"Unclear: the KL grows ({_change_text(m)}), and "
                  "without kl_weight its weight in the loss cannot be told.", metric=name)
    text = (f"the KL grows ({_change_text(m)}), but kl_weight·KL ≈ {num(loss.kl_term_latest)}"
            f" is {100 * share:.2g} % of the NLL: with kl_weight = {num(kw)} the prior barely "
            "constrains the latent, so growth is the expected consequence")
    ev = s.evaluation
    if ev is not None and ev.scale_factor is not None:
        text += (f". For stage 2 the latent scale is what matters: scale_factor "
                 f"{num(ev.scale_factor)} (1/std of the latents) from the evaluation")
    else:
        text += (". For stage 2 check the latent scale (scale_factor = 1/std of the latents) "
                 "with an evaluation")
    if share < 0.01:
        return _a("kl_growth", q, NO, "No for the VAE itself: " + text + ".", metric=name,
                  kl_share_of_nll=share)
    return _a("kl_growth", q, UNCLEAR, "Unclear: " + text + ".", metric=name,
              kl_share_of_nll=share)


def discriminator_working(s: Summary) -> Answer | None:
    q = "Is the discriminator working?"
    gan = next((p for p in s.phases if p.name == "vae_gan"), None)
    configured = s.config.get("disc_start")
    if gan is None:
        if configured is not None and s.steps.last is not None \
                and configured > s.steps.last:
            return _a("discriminator_working", q, UNCLEAR, f"Not started yet, as configured: "
                      f"disc_start {configured:,} is after the last record (step "
                      f"{s.steps.last:,}).")
        if s.roles.get("disc_factor") or s.roles.get("g_loss"):
            return _a("discriminator_working", q, UNCLEAR, "Not started: disc_factor stays 0 in "
                      "every record (VAE phase only).")
        return None
    untrained = _of(s.findings, "discriminator_untrained")
    if untrained and untrained[0].severity != "info":
        msg = untrained[0].message
        return _a("discriminator_working", q, NO, "No (discriminator_untrained): "
                  + msg[:1].upper() + msg[1:], ["discriminator_untrained"])
    d = s.discriminator
    state = d.state
    if untrained or not d.rows:
        return _a("discriminator_working", q, UNCLEAR, "Unclear: the records do not hold the "
                  "discriminator's loss and both its logits to judge it by.",
                  [f.id for f in untrained])
    # the discriminator_untrained finding's rule (analysis.discriminator.judge): at chance, it
    # is that finding (a warning, answered above); lapsed is discriminator_lapsed's (below)
    text = (f"over the second half of its VAE-GAN records (from step "
            f"{d.second_half_from:,}) the median logits are real "
            f"{num(d.logits_real_median_second_half)} vs. reconstructed "
            f"{num(d.logits_fake_median_second_half)} (median of the per-record gap "
            f"{num(d.logit_gap_median_second_half)}), disc_loss "
            f"{num(d.disc_loss_median_second_half)}")
    facts = asdict(d)
    if d.peak_disc_loss_median is not None and d.peak_disc_loss_median < WINS_LOSS \
            and state in ("weak", "separates"):
        # the second half's medians are the verdict; a window where it won outright is said
        text += (f". Earlier it won outright for a while: over steps {d.peak_from:,}-"
                 f"{d.peak_to:,} the median gap was {num(d.peak_gap_median)} and disc_loss "
                 f"{num(d.peak_disc_loss_median)}")
    if state == "too_few":
        return _a("discriminator_working", q, UNCLEAR, f"Too early to tell: the VAE-GAN phase "
                  f"has only {d.rows} records with the discriminator's terms ({text}).", **facts)
    lapsed = _of(s.findings, "discriminator_lapsed")
    if lapsed:   # learned, then back at chance: the finding's words, with its numbers
        msg = lapsed[0].message
        return _a("discriminator_working", q, UNCLEAR, "Partly (discriminator_lapsed): "
                  + msg[:1].upper() + msg[1:], ["discriminator_lapsed"], **facts)
    if state == "at_chance":
        return _a("discriminator_working", q, NO, f"No: it does not tell real from "
                  f"reconstructed maps: {text} (a hinge discriminator at chance has a gap near 0 "
                  "and a loss near 1).", **facts)
    if state == "wins":
        return _a("discriminator_working", q, UNCLEAR, f"It trains but wins outright: {text}; "
                  "its loss near 0 means the generator no longer fools it at all.", **facts)
    if state == "weak":
        return _a("discriminator_working", q, YES, f"Yes, but only a little above chance: it "
                  f"trains, and tells real from reconstructed maps apart weakly: {text} (a hinge "
                  "discriminator at chance has a gap near 0 and a loss near 1; a gap below "
                  f"{CLEAR_GAP:g} is a weak signal, usual while the reconstructions are close to "
                  "the maps or the VAE-GAN phase is young).", **facts)
    return _a("discriminator_working", q, YES, f"Yes: it trains and tells the maps apart "
              f"without winning outright at the end: {text}.", **facts)


def ready_for_stage2(s: Summary) -> Answer:
    """Every part of analysis.readiness's criterion, shown; "yes" only when all hold."""
    q = "Is this VAE ready for stage 2?"
    r = readiness(s, _main_loss(s)[0])
    holds = [p["text"] for p in r["parts"] if p["holds"]]
    failed = [p["text"] for p in r["parts"] if p["holds"] is False]
    missing = [p["text"] for p in r["parts"] if p["holds"] is None]
    if r["answer"] == YES:
        text = "Yes, every part of the criterion holds: " + "; ".join(holds) + "."
    elif r["answer"] == NO:
        text = "No: " + "; ".join(failed) + "." + (
            " Missing: " + "; ".join(missing) + "." if missing else "")
    else:
        text = "Unclear: " + "; ".join(missing) + "." + (
            " Holds: " + "; ".join(holds) + "." if holds else "")
    crit = [f.id for f in s.findings if f.severity == "critical"]
    return _a("ready_for_stage2", q, r["answer"], text, crit, parts=r["parts"],
              failed=r["failed"], missing=r["missing"])


def confidence(s: Summary) -> Confidence:
    """high / medium / low from data coverage: major gaps count fully, minor ones a third.
    ``could_not_check`` names what missing information kept from being checked; it lowers
    confidence and never raises a finding's severity."""
    major, minor, unchecked = [], [], []
    steps = s.steps
    progress = steps.progress
    vae = s.kind == "vae"
    state = s.state.state
    if state == "running" and progress is not None:
        minor.append(f"the run is still running ({progress * 100:.0f} % of its plan)")
    elif state == "stopped" and progress is not None and progress < 0.99:
        major.append(f"the run stopped at {progress * 100:.0f} % of its plan: how it would have "
                     "ended is not in the records")
    elif state == "unknown":
        major.append("whether the run finished cannot be told"
                     + (" (the planned number of steps is unknown)" if progress is None else ""))
    gap = s.log_gap or 1
    if steps.first and steps.first > 2 * gap:
        major.append(f"the records start at step {steps.first:,} (resumed; earlier steps are "
                     "not in them)")
    records = s.records
    if records < 50:
        major.append(f"only {records} records")
    sources = s.config_sources
    from_records = {k for k in s.config if sources.get(k, "records") == "records"}
    if not from_records - {"total_steps"}:
        minor.append("no config in the records")
        keys = [k for k in ("lr", "kl_weight", "disc_weight", "disc_start")
                if k not in s.config]
        if vae and keys:
            unchecked.append("the configured " + ", ".join(keys[:-1]) + (" and " if len(keys) > 1
                                                                          else "") + keys[-1]
                             + " against the records")
        elif not vae:
            unchecked.append("the configured schedule against the records")
        if vae:
            unchecked.append("what rec_loss contains (RadioDiff adds LPIPS unless "
                             "perceptual_weight is 0)")
    gan = any(p.name == "vae_gan" for p in s.phases)
    if vae and gan and not s.roles.get("disc_loss"):
        minor.append("the discriminator's own loss is not in the records")
    if _of(s.findings, "lr_zero"):
        minor.append("the learning rate is not readable from the log")
    if vae and s.evaluation is None:
        minor.append("no checkpoint evaluation")
    if s.kind == "ldm":
        minor.append("sampled maps not scored against ground truth (stage 2's quality is not "
                     "in its losses)")
    score = len(major) + len(minor) / 3
    level = "high" if score < 1 else ("medium" if score < 2.5 and records >= 20 else "low")
    return Confidence(level, major + minor, unchecked)


def concerns(s: Summary) -> list[Answer]:
    """The checks a careful reader runs through, each answered from the findings."""
    found, roles, out = s.findings, s.roles, []
    vae = s.kind == "vae"
    gan = next((p for p in s.phases if p.name == "vae_gan"), None)
    conf = s.config.get("disc_start")
    if vae and roles.get("disc_factor"):
        q = "Did the discriminator start when configured?"
        last = s.steps.last
        if gan is None and conf is not None and last is not None and conf > last:
            out.append(_a("disc_start", q, YES, f"Not yet, as configured: disc_start {conf:,} "
                          f"is after the last record (step {last:,})."))
        elif gan is None:
            out.append(_a("disc_start", q, UNCLEAR, "disc_factor stays 0 in every record"
                          + (f" (disc_start {conf:,})." if conf is not None else ".")))
        elif conf is None:
            out.append(_a("disc_start", q, UNCLEAR, f"It is on from step {gan.start_step:,}; "
                          "these records hold no configured disc_start to compare with."))
        else:
            pc = _of(found, "phase_change", severity=("warning",))
            out.append(_a("disc_start", q, NO if pc else YES,
                          (f"No: disc_factor is on from step {gan.start_step:,}, but "
                           f"disc_start is {conf:,}." if pc else
                           f"Yes: disc_factor is on from step {gan.start_step:,} "
                           f"(disc_start {conf:,})."), [f.id for f in pc]))
    nf = _of(found, "non_finite")
    out.append(_a("non_finite", "Any NaN or Inf?", YES if nf else NO,
                  ("Yes: " + "; ".join(f"`{f.metric}` from step {f.evidence['first_step']:,}"
                                       f" ({f.severity})" for f in nf) + ".")
                  if nf else f"None in {s.records:,} records.", [f.id for f in nf]))
    unstable = _of(found, "spike", "divergence")
    out.append(_a("unstable", "Spikes or divergence?", YES if unstable else NO,
                  "; ".join(f"{f.id} in `{f.metric}`" + _at(f) for f in unstable) + "."
                  if unstable else "None found.", [f.id for f in unstable]))
    out.append(learning(s))
    if vae and roles.get("d_weight"):
        q = "Is the adaptive weight adapting?"
        sat = _of(found, "weight_saturated")
        dm = s.metrics.get(roles["d_weight"]) or MetricStats()
        if sat:
            ev = sat[0].evidence
            near_end = ""
            if ev.get("leaves_cap_near_end"):
                first = ev.get("first_gan_step_below_clamp")
                near_end = (f"; below it in {ev['below_cap_share_before_last_tenth']:.1%} of the "
                            "VAE-GAN records before their last tenth"
                            + (f" (first at step {first:,})" if first is not None else "")
                            + f" and in {ev['below_cap_share_last_tenth']:.0%} of the last tenth")
            out.append(_a("adaptive_weight", q, NO, "No: `{}` is at its cap {} in {:.1%} of the "
                          "records (weight_saturated){}.".format(
                              sat[0].metric, num(ev["value"]), ev["share"], near_end),
                          ["weight_saturated"]))
        elif gan is None or (dm.max == 0 and dm.min == 0):
            out.append(_a("adaptive_weight", q, UNCLEAR, "Not applicable: the discriminator is "
                          "off in these records" + (" (d_weight is 0 in every record)."
                                                    if dm.max == 0 else ".")))
        else:
            lo, hi = (gan.ranges.get(roles["d_weight"])
                      or [dm.min, dm.max])
            rule = next((c for c in s.causes if c.id == "d_weight_rule"), None)
            cap = rule.config_evidence.get("cap") if rule is not None else None
            per_pixel = rule is not None and rule.config_evidence.get("adaptive_weight") \
                == "per_pixel"
            how = (f", below its cap {num(cap)} in the VAE-GAN records" if cap is not None else
                   " (radiovae's per-pixel rule, whose cap applies to the per-pixel gradient "
                   "ratio, not to d_weight itself), never at a constant ceiling" if per_pixel
                   else ", never at a constant ceiling")
            out.append(_a("adaptive_weight", q, YES, f"Yes: in the VAE-GAN phase d_weight moves "
                          f"between {num(lo)} and {num(hi)}{how}.", low=lo, high=hi, cap=cap))
    if roles.get("lr"):
        q = "Is the learning rate what was configured?"
        lr = _of(found, "lr_zero")
        cfg = s.config.get("lr")
        if lr:
            f = lr[0]
            ans = {"info": YES if cfg is not None else UNCLEAR}.get(f.severity, NO)
            out.append(_a("lr", q, ans, f"{f.severity.capitalize()} (lr_zero): "
                          + f.message, ["lr_zero"]))
        else:
            m = s.metrics.get(roles["lr"]) or MetricStats()
            decays = m.trend == "decreasing" or (
                m.trend == "step" and (m.last or 0) < (m.first or 0))
            printed = m.trend == "step"
            sched = next((c for c in s.causes if c.id == "lr_schedule"), None)
            out.append(_a("lr", q, UNCLEAR if cfg is None else YES,
                          "lr is logged and non-zero: "
                          + (f"{num(m.first)} at first, decaying to "
                             if decays else "") + f"{num(m.last)} at the last record"
                          + (" (as printed, rounded to a few levels)" if printed else "")
                          + (f"; the config says {num(cfg)}" if cfg is not None else "")
                          + (" as the starting value of its schedule" if cfg is not None and decays
                             else "")
                          + (f"; the schedule implies "
                             f"{num(sched.record_evidence['implied_lr_at_last_step'])} there"
                             if sched else "") + "."))
    plateau = _of(found, "plateau")
    if plateau:
        out.append(_a("stalled", "Has training stalled?", YES,
                      "; ".join(f.message for f in plateau), ["plateau"]))
    return out


def learning(s: Summary) -> Answer:
    """Everything that should learn: the frozen metrics (those frozen by design said so), the
    discriminator, and a stage-2 loss_vlb that is 0 by design."""
    q = "Is everything that should learn, learning?"
    found = s.findings
    if _too_short(s):
        return _a("learning", q, UNCLEAR, f"Unclear: {_short_text(s)}.")
    frozen = _of(found, "frozen_metric")
    design = [f for f in frozen if f.evidence.get("cause") == "logvar_by_design"]
    wrong = [f"`{f.metric}` never changes" for f in frozen if f not in design]
    untrained = _of(found, "discriminator_untrained", severity=("warning", "critical"))
    if untrained:
        wrong.append("the discriminator does not learn (discriminator_untrained)")
    notes = [f"`{f.metric}` stays {num(f.evidence.get('value'))} by design (left out of "
             "the optimizer, as in RadioDiff and latent-diffusion)" for f in design]
    lapsed = _of(found, "discriminator_lapsed")
    partly = [f"the discriminator separated the maps over steps {f.evidence['peak_from']:,}-"
              f"{f.evidence['peak_to']:,}, then went back near chance (discriminator_lapsed)"
              for f in lapsed]
    vlb = s.roles.get("loss_vlb")
    m = s.metrics.get(vlb or "") or MetricStats()
    if vlb and m.max == 0 and m.min == 0:
        notes.append(f"`{vlb}` is 0 in every record: RadioDiff's const-SDE model sets it to 0 "
                     "(its VLB terms are commented out), by design")
    ids = [f.id for f in frozen + untrained + lapsed]
    plateau = [f for f in _of(found, "plateau") if s.kind == "ldm"]
    if plateau and not wrong:
        return _a("learning", q, UNCLEAR, f"Unclear from the losses: `{plateau[0].metric}` "
                  "has levelled off, so whether the model still improves shows only in sampled "
                  "maps" + ("; " + "; ".join(notes) if notes else "") + ".", ids + ["plateau"])
    if wrong:
        return _a("learning", q, NO, "No: " + "; ".join(wrong + partly + notes) + ".", ids)
    if partly:
        return _a("learning", q, UNCLEAR, "Partly: " + "; ".join(partly + notes) + ".", ids)
    if notes:
        return _a("learning", q, YES, "Yes; " + "; ".join(notes) + ".", ids)
    return _a("learning", q, YES, "No logged quantity is frozen.", ids)


def _at(f: Finding) -> str:
    steps = f.steps
    if f.id == "divergence" and f.span:
        return f" from step {f.span[0]:,}"
    if not steps:
        return ""
    shown = ", ".join(f"{s:,}" for s in steps[:6])
    return f" at step{'s' if len(steps) > 1 else ''} {shown}" + (
        f" … ({len(steps)} steps)" if len(steps) > 6 else "")
