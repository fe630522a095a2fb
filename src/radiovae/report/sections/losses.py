"""One section per loss: total, KL, reconstruction, discriminator (for a VAE run); for a stage-2
run (or one of unknown kind) one per metric it logs: total, loss_simple, loss_vlb, lr."""

from __future__ import annotations

from radiovae.analysis.panels import logged_zero
from radiovae.analysis.schema import RecContents, Spread
from radiovae.analysis.stats import trend_text
from radiovae.fmt import num
from radiovae.report.document import Bullets, Figure, Paragraph, Section
from radiovae.report.facts import Facts, change_text, label, sentence, steps_text

MARKS = ("Thin light line or band: the records (on long runs the min … max of each group of "
         "consecutive records, so spikes survive); thick line: smoothed. Dashed purple: VAE → "
         "VAE-GAN switch; dotted grey: resume; ▼/×: steps named by findings.")
MARKS_ANY_RUN = ("Thin light line or band: the records (on long runs the min … max of each group "
                 "of consecutive records, so spikes survive); thick line: smoothed; dotted grey: "
                 "resume; ▼/×: steps named by findings.")


def _observations(f: Facts, role: str) -> list[str]:
    m = f.m(role)
    name = f.name(role)
    out = [f"Latest {num(m.last)} at step {f.steps.last or 0:,} (smoothed "
           f"{num(m.last_smoothed)}); first {num(m.first)}; range "
           f"{num(m.min)} … {num(m.max)}, mean {num(m.mean)}.",
           (f"Change {change_text(m)} between the medians of the first and the last "
            f"{m.window:,} records ({num(m.start_median)} → "
            f"{num(m.end_median)}); trend **{trend_text(m)}**"
            if m.start_median is not None else f"Trend **{trend_text(m)}**")
           + (f"; rolling coefficient of variation {m.stability_cv:.2f}"
              if m.stability_cv is not None else "") + "."]
    vae, gan = f.phase("vae"), f.phase("vae_gan")
    a, b = f.phase_mean("vae", role), f.phase_mean("vae_gan", role)
    if vae and gan and a is not None and b is not None:
        out.append(f"Mean {num(a)} in the VAE phase ({vae.records:,} records) vs. "
                   f"{num(b)} in the VAE-GAN phase ({gan.records:,} records).")
    elif vae and gan and b is not None:
        out.append(f"Not logged in the VAE phase; mean {num(b)} in the VAE-GAN phase "
                   f"({gan.records:,} records).")
    nonfinite = m.n_nonfinite or 0
    out.append(f"{nonfinite:,} non-finite values." if nonfinite else "No NaN or Inf values.")
    for x in f.about(name):
        steps, message = steps_text(x), sentence(x.message)
        first = (x.span or sorted(x.steps) or [None])[0]
        named = first is not None and str(first) in message.replace(",", "")
        out.append(f"{label(x)}: {message}" + (f" (steps {steps})" if steps and not named
                                                else ""))
    return out


def _loss_section(f: Facts, role: str, title: str, anchor: str, fig_key: str,
                  figures: dict[str, str], meaning: list[str], caption: str) -> Section:
    sec = Section(title, anchor)
    if fig_key in figures:
        sec.add(Figure(figures[fig_key], caption))
    if f.has(role):
        sec.add(Paragraph("**Key observations**"), Bullets(_observations(f, role)))
    else:
        sec.add(Paragraph(f"These records have no {title.lower()} column."))
    if meaning:
        sec.add(Paragraph("**What this means**"), *[Paragraph(p) for p in meaning])
    return sec


STAGE2 = (("total", "Total loss", "total-loss", "total_loss"),
          ("loss_simple", "Diffusion loss (loss_simple)", "loss-simple", "loss_simple"),
          ("loss_vlb", "VLB term (loss_vlb)", "loss-vlb", "loss_vlb"),
          ("lr", "Learning rate", "lr", "lr"))
STEPS_NOTE = ("A series with a few values held for many records (an lr printed at 5 decimals) "
              "is drawn as steps, not smoothed.")
DISC_STEPS_NOTE = ("disc_factor (0, then 1 from the switch) is drawn as steps, not smoothed: a "
                   "switch, not a ramp.")


def _stage2_sections(f: Facts, figures: dict[str, str]) -> list[Section]:
    """A stage-2 (or unknown-kind) run: a section per metric it logs, in its own terms."""
    out = []
    for role, title, anchor, key in STAGE2:
        if not f.has(role) and role != "total":
            continue
        meaning = []
        if role == "loss_vlb" and logged_zero(f.s, role):
            meaning.append("loss_vlb is 0 in every record, so no figure is drawn for it: "
                           "RadioDiff's const-SDE model (ddm_const_sde.py) sets loss_vlb = 0, its VLB "
                           "terms commented out: by design, not a fault.")
        ratio = f.loss.total_over_simple
        if role == "total" and ratio is not None:
            ga = f.loss.gradient_accumulate_every
            lo, hi = f.loss.total_over_simple_range or (None, None)
            meaning.append(
                f"The logged total_loss is {num(ratio)} × loss_simple (median; 5–95 %: "
                f"{num(lo)}–{num(hi)})."
                + (f" train_cond_ldm.py adds the running total at each of its {ga} accumulation "
                   f"passes, which gives ({ga} + 1) / 2 = {num((ga + 1) / 2)} ×."
                   if f.loss.matches_running_sum and ga else "")
                + " The loss the optimizer steps on is loss_simple + loss_vlb: judge by "
                "loss_simple.")
        caption = f"{title}. {MARKS_ANY_RUN}" + (f" {STEPS_NOTE}" if role == "lr" else "")
        out.append(_loss_section(f, role, title, anchor, key, figures, meaning, caption))
    return out


def loss_sections(f: Facts, figures: dict[str, str]) -> list[Section]:
    if f.kind != "vae":
        return _stage2_sections(f, figures)
    disc_title = "Discriminator loss" if f.has("disc_loss") else "Discriminator and adversarial terms"
    return [
        _loss_section(f, "total", "Total loss", "total-loss", "total_loss", figures,
                      _total_meaning(f), "Total loss. " + MARKS),
        _loss_section(f, "kl", "KL loss", "kl-loss", "kl_loss", figures, _kl_meaning(f),
                      "KL loss. " + MARKS),
        _loss_section(f, "rec", "Reconstruction loss", "rec-loss", "rec_loss", figures,
                      _rec_meaning(f), "Reconstruction loss. " + MARKS),
        _disc_section(f, disc_title, figures),
    ]


def _total_meaning(f: Facts) -> list[str]:
    out, loss = [], f.loss
    kw, source = loss.kl_weight, loss.kl_weight_source
    formula = ("The total loss is `nll + kl_weight·KL + d_weight·disc_factor·g_loss`"
               + (f" with kl_weight = {num(kw)}" if kw is not None else "")
               + (" (not in these records' config: inferred as the median of (total − nll − "
                  "d_weight·disc_factor·g_loss) / KL)" if source == "inferred" else "") + ".")
    if loss.adds_up is True:
        formula += (f" The logged terms add up to the logged total in every record (largest "
                    f"difference {num(loss.residual_max)}, the log's rounding).")
    elif loss.adds_up is False:
        why = {"resume_overlap": "rows a resume rewrote (its overlap with the earlier run)",
               "missing_adversarial_terms": "VAE-GAN rows whose records lack d_weight or g_loss",
               "kl_weight_differs": f"rows that add up with kl_weight = "
                                    f"{num(loss.kl_weight_inferred)}, not the config's",
               "unexplained": "rows no logged term explains: the loss has a term these records "
                              "do not show, or the logged total is wrong"}
        att = loss.attribution or {}
        formula += (f" The logged terms do **not** add up to the logged total in "
                    f"{loss.rows_not_adding_up or 0:,} of {loss.rows_checked or 0:,} "
                    f"records (steps {loss.first_step_not_adding_up or 0:,}–"
                    f"{loss.last_step_not_adding_up or 0:,}; largest difference "
                    f"{num(loss.residual_max)}): "
                    + "; ".join(f"{n:,} {why[k]}" for k, n in att.items()) + ".")
    out.append(formula)
    neg = f.with_id("negative_total_loss")   # its message is among the observations
    adv = (loss.adversarial_by_phase or {}).get("vae_gan")
    if adv is not None and not neg:
        out.append(adversarial_text(adv))
    a, b = f.phase_mean("vae", "total"), f.phase_mean("vae", "nll")
    if f.phase("vae") and a is not None and b is not None:
        out.append(f"In the VAE phase (disc_factor 0) the total is the NLL plus kl_weight·KL "
                   f"(mean {num(a)} vs. NLL {num(b)}).")
    bad = f.about("total", "divergence", "non_finite", "spike", "plateau")
    if not bad and f.m("total"):
        out.append("No divergence, spike, plateau or non-finite finding concerns the total loss.")
    return out


def _kl_meaning(f: Facts) -> list[str]:
    m = f.m("kl")
    if not m:
        return []
    answer = f.s.answer("kl_growth")
    loss, out = f.loss, []
    kw = loss.kl_weight
    if kw is not None and loss.kl_term_latest is not None:
        text = (f"With kl_weight = {num(kw)}"
                + (" (inferred, see Total loss)" if loss.kl_weight_source == "inferred"
                   else "") + f" the KL term contributes kl_weight·KL ≈ "
                f"{num(loss.kl_term_latest)} to the total (smoothed latest)")
        if loss.kl_share_of_nll is not None:
            text += f", {100 * loss.kl_share_of_nll:.2g} % of the NLL"
        out.append(text + ".")
    if answer:
        out.append(f"**{answer.question}** {sentence(answer.text)}")
    return out


def _rec_meaning(f: Facts) -> list[str]:
    m = f.m("rec")
    if not m:
        return []
    rc, loss, out = f.loss.rec_contents or RecContents(), f.loss, []
    pixel = rc.pixel_terms or "|x − x̂| + (x − x̂)²"
    if rc.includes_lpips is True:
        out.append(f"rec_loss is RadioDiff's per-pixel {pixel} on maps in [-1, 1] plus "
                   f"perceptual_weight · LPIPS (perceptual_weight = "
                   f"{num(rc.perceptual_weight)}, {rc.source}), averaged. It is no "
                   "pure pixel error, so its size is not a pixel accuracy.")
    elif rc.includes_lpips is False:
        out.append(f"rec_loss is the per-pixel {pixel} on maps in [-1, 1], averaged "
                   "(perceptual_weight = 0 in the config: no LPIPS term).")
    else:
        out.append(f"What rec_loss contains cannot be told without the run's config: RadioDiff's "
                   f"loss adds perceptual_weight · LPIPS (1 by default) to the per-pixel {pixel}, "
                   "so it is not a pure pixel error unless perceptual_weight is 0.")
    if loss.logvar_trains is True:
        out.append("The NLL is (rec_loss / exp(logvar) + logvar) summed over each map's pixels, "
                   "with a learned logvar: it is no fixed multiple of rec_loss, and it turns "
                   "negative once logvar is low enough. Judge reconstruction by rec_loss.")
    elif loss.nll_over_rec is not None:
        text = f"The NLL is {num(loss.nll_over_rec)} × rec_loss (median over records)"
        if loss.map_side:
            side = loss.map_side
            text += (f", ≈ {side}×{side} pixels: with logvar fixed at 0 the NLL is rec_loss "
                     "summed over each map's pixels")
        out.append(text + ".")
    a, b = f.phase_mean("vae", "rec"), f.phase_mean("vae_gan", "rec")
    if a and b is not None:
        text = (f"Mean rec_loss {num(a)} in the VAE phase vs. {num(b)} in the VAE-GAN phase "
                f"({100 * (b - a) / abs(a):+.1f} %). The VAE-GAN phase is later in training, so "
                "this difference is mostly training progress")
        sw = f.s.switch.means.get(f.name("rec") or "") if f.s.switch is not None else None
        if sw is not None and sw.change_pct is not None:
            text += (f"; right around the switch rec_loss moves {sw.change_pct:+.1f} % (the "
                     f"{f.s.switch.before_records} records before vs. the "
                     f"{f.s.switch.after_records} after)")
        out.append(text + ".")
    return out


def _disc_section(f: Facts, title: str, figures: dict[str, str]) -> Section:
    sec = Section(title, "discriminator")
    if "disc_loss" in figures:
        sec.add(Figure(figures["disc_loss"], title + ". " + MARKS
                       + (" " + DISC_STEPS_NOTE if not f.has("disc_loss") and f.has("disc_factor")
                          else "")))
    items, meaning = [], []
    d = f.s.discriminator
    if f.has("disc_loss"):
        items += _observations(f, "disc_loss")
        if d.logit_gap_median_second_half is not None:
            items.append(f"Median logits over the second half of the VAE-GAN records (from step "
                         f"{d.second_half_from or 0:,}): real "
                         f"{num(d.logits_real_median_second_half)}, reconstructed "
                         f"{num(d.logits_fake_median_second_half)} (median of the per-record "
                         f"gap {num(d.logit_gap_median_second_half)}; a hinge discriminator that "
                         "cannot tell them apart has a gap near 0 and a loss near 1).")
        if d.peak_gap_median is not None:
            items.append(f"Widest separation in any {d.window_records} consecutive VAE-GAN "
                         f"records: steps {d.peak_from:,}-{d.peak_to:,}, median gap "
                         f"{num(d.peak_gap_median)} (disc_loss {num(d.peak_disc_loss_median)}); "
                         f"the last {d.window_records} (from step {d.end_from:,}): gap "
                         f"{num(d.end_gap_median)}.")
    elif f.switch is not None:
        untrained = f.with_id("discriminator_untrained")
        items.append("These records have **no discriminator loss** (`train/disc_loss`, "
                     "`train/logits_real`, `train/logits_fake`) in the VAE-GAN phase"
                     + (" (see discriminator_untrained)." if untrained else "."))
    if f.has("g_loss"):
        g = f.phase_mean("vae_gan", "g_loss")
        gm = f.m("g_loss")
        items.append("g_loss (generator loss, −mean discriminator logit on reconstructions): "
                     + (f"mean {num(g)} in the VAE-GAN phase, " if g is not None else "")
                     + f"latest {num(gm.last)} (smoothed {num(gm.last_smoothed)}),"
                     f" trend {gm.trend or 'unknown'}.")
    sw, conf = f.switch, f.configured_switch
    if f.has("disc_factor"):
        if sw is not None:
            items.append(f"disc_factor switches on at step {sw:,}"
                         + (f" (configured disc_start {conf:,})" if conf is not None else "")
                         + ".")
        elif conf is not None and conf > (f.steps.last or 0):
            items.append(f"disc_factor is 0 in every record: the discriminator starts at "
                         f"disc_start {conf:,}, after the last record (as configured).")
        else:
            items.append("disc_factor is 0 in every record: VAE phase only.")
    if f.has("d_weight"):
        dm = f.m("d_weight")
        items.append(f"d_weight: latest {num(dm.last)}, range {num(dm.min)} … "
                     f"{num(dm.max)}, mean {num(dm.mean)}.")
        for x in f.about("d_weight", "weight_saturated"):
            meaning.append(sentence(x.message))
        adv = (f.loss.adversarial_by_phase or {}).get("vae_gan")
        if adv is not None:
            meaning.append(adversarial_text(adv))
    answer = f.s.answer("discriminator_working")
    if answer:
        meaning.append(f"**{answer.question}** {sentence(answer.text)}")
    sec.add(Paragraph("**Key observations**"), Bullets(items) if items else
            Paragraph("No discriminator terms in these records."))
    if meaning:
        sec.add(Paragraph("**What this means**"), *[Paragraph(p) for p in meaning])
    return sec


def adversarial_text(adv: Spread) -> str:
    """The VAE-GAN phase's adversarial term by its median and 5-95 % range (never a mean)."""
    return (f"In the VAE-GAN phase the adversarial term d_weight·disc_factor·g_loss has a median "
            f"of {num(adv.median)} and runs from {num(adv.p5)} to {num(adv.p95)} "
            f"(5th–95th percentile of {adv.records:,} records).")
