"""One section per loss: total, KL, reconstruction, discriminator."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from radiovae.analysis.lossmodel import recompute_total
from radiovae.fmt import num, pct
from radiovae.report.document import Bullets, Figure, Paragraph, Section
from radiovae.report.facts import (
    Facts,
    label,
    sentence,
    steps_text,
)
from radiovae.report.marks import finding_range, finding_steps


def _observations(f: Facts, role: str) -> list[str]:
    m = f.m(role)
    name = f.name(role)
    out = [f"Latest {num(m.get('last'))} at step {f.steps.get('last', 0):,}; first "
           f"{num(m.get('first'))}; range {num(m.get('min'))} … {num(m.get('max'))}, "
           f"mean {num(m.get('mean'))}.",
           f"Change {pct(m.get('change_pct'))} from the first record; trend "
           f"**{m.get('trend') or 'unknown'}**"
           + (f"; rolling coefficient of variation {m['stability_cv']:.2f}"
              if isinstance(m.get("stability_cv"), (int, float)) else "") + "."]
    vae, gan = f.phase_rows("vae"), f.phase_rows("vae_gan")
    if not vae.empty and not gan.empty:
        out.append(f"Mean {num(f.mean(vae, role))} in the VAE phase ({len(vae):,} records) vs. "
                   f"{num(f.mean(gan, role))} in the VAE-GAN phase ({len(gan):,} records).")
    nonfinite = m.get("n_nonfinite") or 0
    out.append(f"{nonfinite:,} non-finite values." if nonfinite else "No NaN or Inf values.")
    for x in f.about(name):
        steps, message = steps_text(x), sentence(x.get("message"))
        first = (finding_range(x) or finding_steps(x) or [None])[0]
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


def loss_sections(f: Facts, figures: dict[str, str]) -> list[Section]:
    marks = ("Thin light line: every record (min/max per bucket, so spikes survive); thick line: "
             "rolling median. Dashed purple: VAE → VAE-GAN switch; dotted grey: resume; ▼/×: "
             "steps named by findings.")
    disc_title = "Discriminator loss" if f.has("disc_loss") else "Discriminator and adversarial terms"
    return [
        _loss_section(f, "total", "Total loss", "total-loss", "total_loss", figures,
                      _total_meaning(f), "Total loss. " + marks),
        _loss_section(f, "kl", "KL loss", "kl-loss", "kl_loss", figures, _kl_meaning(f),
                      "KL loss. " + marks),
        _loss_section(f, "rec", "Reconstruction loss", "rec-loss", "rec_loss", figures,
                      _rec_meaning(f), "Reconstruction loss. " + marks),
        _disc_section(f, disc_title, figures, marks),
    ]


def _adversarial_mean(f: Facts, rows: pd.DataFrame) -> float | None:
    if rows.empty or not (f.has("g_loss") and f.has("d_weight")):
        return None
    term = rows[f.name("g_loss")].to_numpy(float) * rows[f.name("d_weight")].to_numpy(float)
    if f.has("disc_factor"):
        term = term * rows[f.name("disc_factor")].to_numpy(float)
    term = term[np.isfinite(term)]
    return float(term.mean()) if len(term) else None


def _decomposition_residual(f: Facts) -> float | None:
    """Largest |total − (nll + kl_weight·KL + d_weight·disc_factor·g)| over the records, if all
    terms are logged: checks that we read the loss the way it was computed."""
    kw, _ = f.kl_weight
    if kw is None or not all(f.has(r) for r in ("total", "nll", "kl")):
        return None
    loss = recompute_total(f.t, {"kl_weight": kw}, adversarial_optional=True)
    diff = np.abs(loss["total"] - loss["model"])
    diff = diff[np.isfinite(diff)]
    return float(diff.max()) if len(diff) else None


def _total_meaning(f: Facts) -> list[str]:
    out = []
    kw, source = f.kl_weight
    formula = ("The total loss is `nll + kl_weight·KL + d_weight·disc_factor·g_loss`"
               + (f" with kl_weight = {num(kw)}" if kw is not None else "")
               + (" (not in these records' config: inferred as the median of (total − nll − "
                  "d_weight·disc_factor·g_loss) / KL)" if source == "inferred" else "") + ".")
    resid = _decomposition_residual(f)
    if resid is not None:
        scale = abs(f.m("total").get("max") or 1) or 1
        if resid <= max(0.05, 1e-3 * scale):
            formula += (f" The logged terms add up to the logged total in every record (largest "
                        f"difference {num(resid)}, the log's rounding).")
        else:
            formula += (f" The logged terms do **not** add up to the logged total (largest "
                        f"difference {num(resid)}): the loss has terms these records do not show, "
                        f"or kl_weight differs from the config.")
    out.append(formula)
    gan = f.phase_rows("vae_gan")
    adv = _adversarial_mean(f, gan)
    nll = f.mean(gan, "nll")
    negative = f.with_id("negative_total_loss")
    total_min = f.m("total").get("min")
    if adv is not None and (negative or (total_min is not None and total_min < 0)):
        out.append(
            f"After the discriminator starts, the adversarial term d_weight·g_loss averages "
            f"{num(adv)}" + (f" against a mean NLL of {num(nll)}" if nll is not None else "")
            + ": it outweighs the reconstruction term, so the total turns negative. A negative "
            "total is the sign of `g_loss` (the generator loss, −mean discriminator logit on "
            "reconstructions) times a large d_weight, not a better reconstruction. Judge "
            "reconstruction by rec_loss and by the evaluation metrics, not by the total.")
    elif not gan.empty and adv is not None:
        out.append(f"In the VAE-GAN phase the adversarial term averages {num(adv)}.")
    vae = f.phase_rows("vae")
    if not vae.empty and f.has("nll"):
        out.append(f"Before the switch the total is essentially the NLL (mean "
                   f"{num(f.mean(vae, 'total'))} vs. NLL {num(f.mean(vae, 'nll'))}).")
    bad = f.about("total", "divergence", "non_finite", "spike", "plateau")
    if not bad and f.m("total"):
        out.append("No divergence, spike, plateau or non-finite finding concerns the total loss.")
    return out


def _kl_meaning(f: Facts) -> list[str]:
    m = f.m("kl")
    if not m:
        return []
    kw, source = f.kl_weight
    out = []
    if kw is not None and m.get("last") is not None:
        contrib = kw * float(m["last"])
        nll = f.m("nll").get("last") if f.m("nll") else None
        share = (f", about {100 * abs(contrib) / abs(nll):.3g} % of the latest NLL ({num(nll)})"
                 if nll else "")
        text = (f"With kl_weight = {num(kw)}"
                + (" (inferred, see Total loss)" if source == "inferred" else "")
                + f" the KL term contributes kl_weight·KL ≈ {num(contrib)} to the total{share}.")
        if nll and abs(contrib) < 0.01 * abs(nll):
            text += (" The prior barely constrains the latent: the encoder is free to spend KL "
                     "on reconstruction"
                     + (", so a growing KL is the expected consequence, not an error in itself."
                        if m.get("trend") == "increasing" else "."))
        out.append(text)
    else:
        out.append("kl_weight is not in these records, so the KL term's share of the total "
                   "cannot be computed (RadioDiff's config uses 1e-6).")
    trend = m.get("trend")
    if trend == "increasing":
        out.append(f"The KL trend is increasing ({pct(m.get('change_pct'))} from the first "
                   "record). For the second stage "
                   "this matters more than for the VAE itself: RadioDiff's diffusion model works "
                   "on latents rescaled by a scale_factor (1/std of the latents), so check the "
                   "latent statistics of the final checkpoint (`radiovae eval`) before training "
                   "the diffusion model.")
    elif trend == "decreasing":
        out.append(f"The KL trend is decreasing ({pct(m.get('change_pct'))} from the first "
                   "record): the posterior is moving toward the prior.")
    return out


def _rec_meaning(f: Facts) -> list[str]:
    m = f.m("rec")
    if not m:
        return []
    out = []
    last = m.get("last")
    if last is not None:
        out.append(f"rec_loss is the per-pixel reconstruction error on maps normalized to "
                   f"[-1, 1]: the latest {num(last)} is about {100 * float(last) / 2:.2g} % of "
                   f"that 2-unit range" + (f", down {pct(m.get('change_pct'))} from the first "
                                           f"record" if (m.get('change_pct') or 0) < 0 else "")
                   + ".")
    logvar = f.col("logvar") if f.has("logvar") else None
    finite_logvar = logvar[np.isfinite(logvar)] if logvar is not None else np.array([])
    logvar_moves = len(finite_logvar) > 1 and float(np.ptp(finite_logvar)) > 0
    if f.has("nll") and f.has("rec") and logvar_moves:
        out.append("The NLL is (rec_loss / exp(logvar) + logvar) summed over each map's pixels, "
                   "with a learned logvar: it is no fixed multiple of rec_loss, and it turns "
                   "negative once logvar does. Judge reconstruction by rec_loss.")
    elif f.has("nll") and f.has("rec"):
        rec, nll = f.sampled("rec"), f.sampled("nll")
        ok = np.isfinite(rec) & np.isfinite(nll) & (rec > 0)
        ratio = float(np.median(nll[ok] / rec[ok])) if ok.sum() >= 3 else float("nan")
        if ratio > 0:
            side = math.sqrt(ratio)
            text = f"The NLL is {num(ratio)} × rec_loss (median over records)"
            if abs(side - round(side)) / side < 0.01:
                text += (f", ≈ {round(side)}×{round(side)} pixels: the NLL is the per-pixel "
                         f"error summed over each map, divided by exp(logvar)")
            out.append(text + ".")
    for x in f.about("logvar", "frozen_metric"):
        out.append(f"{label(x)}: the learned variance scales the NLL "
                   "(`rec/exp(logvar) + logvar`). Frozen, it is not being optimized (RadioDiff's "
                   "autoencoder optimizer holds the model's parameters, not the loss's logvar), "
                   f"so the reconstruction term is weighted by a constant exp(−logvar) = "
                   f"{num(math.exp(-(f.m('logvar').get('last') or 0.0)))}.")
    vae, gan = f.phase_rows("vae"), f.phase_rows("vae_gan")
    a, b = f.mean(vae, "rec"), f.mean(gan, "rec")
    if a is not None and b is not None and a:
        out.append(f"Mean rec_loss {num(a)} in the VAE phase vs. {num(b)} in the VAE-GAN phase "
                   f"({pct(100 * (b - a) / abs(a))}); the VAE-GAN phase is also later in training, "
                   "so this is not the discriminator's effect alone (see Phase analysis for the "
                   "records right around the switch).")
    return out


def _disc_section(f: Facts, title: str, figures: dict[str, str], marks: str) -> Section:
    sec = Section(title, "discriminator")
    if "disc_loss" in figures:
        sec.add(Figure(figures["disc_loss"], title + ". " + marks))
    items = []
    if f.has("disc_loss"):
        items += _observations(f, "disc_loss")
        if f.has("logits_real") and f.has("logits_fake"):
            gan = f.phase_rows("vae_gan")
            r, k = f.mean(gan, "logits_real"), f.mean(gan, "logits_fake")
            if r is not None and k is not None:
                items.append(f"In the VAE-GAN phase mean logits: real {num(r)}, reconstructed "
                             f"{num(k)} (gap {num(r - k)}; a hinge discriminator that cannot tell "
                             "them apart has a gap near 0 and a loss near 1).")
    else:
        untrained = f.with_id("discriminator_untrained")
        items.append("These records have **no discriminator loss** (`train/disc_loss`, "
                     "`train/logits_real`, `train/logits_fake`)"
                     + (": " + sentence(untrained[0].get("message")) if untrained else
                        ". The discriminator's own progress cannot be judged; the adversarial "
                        "terms that were logged follow."))
    meaning = []
    if f.has("g_loss"):
        gan = f.phase_rows("vae_gan")
        g = f.mean(gan, "g_loss") if not gan.empty else f.m("g_loss").get("mean")
        items.append(f"g_loss (generator loss, −mean discriminator logit on reconstructions): "
                     f"mean {num(g)}{' in the VAE-GAN phase' if not gan.empty else ''}, latest "
                     f"{num(f.m('g_loss').get('last'))}, trend {f.m('g_loss').get('trend') or 'unknown'}.")
    if f.has("disc_factor"):
        sw, conf = f.switch, f.configured_switch
        if sw is not None:
            items.append(f"disc_factor switches on at step {sw:,}"
                         + (f" (configured disc_start {conf:,})" if conf is not None else "")
                         + ".")
        else:
            items.append("disc_factor never switches on in these records: VAE phase only.")
    if f.has("d_weight"):
        dm = f.m("d_weight")
        items.append(f"d_weight: latest {num(dm.get('last'))}, range {num(dm.get('min'))} … "
                     f"{num(dm.get('max'))}, mean {num(dm.get('mean'))}.")
        sat = f.about("d_weight", "weight_saturated")
        dw = f.col("d_weight")
        dw = dw[np.isfinite(dw)]
        disc_weight = f.cfg("disc_weight")
        clamp = 1e4 * disc_weight if disc_weight is not None else None
        if sat or (clamp is not None and len(dw) and np.mean(np.isclose(dw, clamp)) > 0.5):
            at = float(np.mean(np.isclose(dw, clamp if clamp is not None else dw.max())))
            implied = float(dw.max()) / 1e4 if len(dw) else 0.0
            clamp_text = (f"its clamp 1e4 × disc_weight = {num(clamp)}" if clamp is not None
                          else f"its maximum {num(dw.max())}" + (
                              f" (the clamp 1e4 × disc_weight for disc_weight = {num(implied)}; "
                              "the config is not in these records)"
                              if implied > 0 and float(f"{implied:.2g}") == implied else ""))
            meaning.append(
                f"d_weight sits at {clamp_text} in {100 * at:.1f} % of the records. The adaptive "
                "weight is ‖∇nll‖ / ‖∇g_loss‖ at the decoder's last layer, clamped to [0, 1e4] and "
                "multiplied by disc_weight: pinned at the clamp it is **not adapting**, so the "
                "adversarial term's size is set by the clamp and disc_weight, not by the "
                "gradient balance. Because the same weight is computed (and logged) before the "
                "discriminator starts, the saturation is visible in the VAE phase too.")
        if (f.has("g_loss") and not f.phase_rows("vae_gan").empty
                and (adv := _adversarial_mean(f, f.phase_rows("vae_gan"))) is not None):
            meaning.append(f"Together: the adversarial term d_weight·disc_factor·g_loss averages "
                           f"{num(adv)} per step in the VAE-GAN phase.")
    sec.add(Paragraph("**Key observations**"), Bullets(items))
    if meaning:
        sec.add(Paragraph("**What this means**"), *[Paragraph(p) for p in meaning])
    return sec
