"""Concerns, recommendations, evaluation and conclusion."""

from __future__ import annotations

from radiovae.fmt import num
from radiovae.report.document import Bullets, Figure, Paragraph, Section, Table, code
from radiovae.report.facts import (
    Facts,
    evidence_text,
    log_gap,
    reason,
    sentence,
    where,
)


def concerns(f: Facts, figures: dict[str, str]) -> list[Section]:
    sec = Section("Concerns answered from evidence", "concerns")
    qa = []
    sw = f.switch
    if f.has("disc_factor"):
        conf = f.configured_switch
        if sw is None:
            answer = "No: disc_factor stays 0 in every record."
        elif conf is None:
            answer = (f"It is on from step {sw:,}; these records hold no configured disc_start "
                      "to compare with (RadioDiff's config says 50,001).")
        elif 0 <= sw - conf <= log_gap(f):
            answer = f"Yes: disc_factor is on from step {sw:,} (disc_start {conf:,})."
        else:
            answer = (f"No: disc_factor is on from step {sw:,}, but disc_start is {conf:,}.")
        qa.append("**Did the discriminator start when configured?** " + answer)
    if f.m("total") and (f.m("total").get("min") or 0) < 0:
        qa.append("**Is the negative total loss a problem?** Not by itself: it is the adversarial "
                  "term d_weight·g_loss outweighing the NLL (see Total loss). It does mean the "
                  "total is no measure of reconstruction quality.")
    nonfinite = f.with_id("non_finite")
    n_nf = sum(int(m.get("n_nonfinite") or 0) for m in f.metrics.values())
    qa.append("**Any NaN or Inf?** " + (
        "Yes: " + "; ".join(f"{code(x.get('metric'))}{where(x)}" for x in nonfinite) + "."
        if nonfinite else
        (f"{n_nf:,} non-finite values in the records." if n_nf else
         f"None in {f.s.get('records', 0):,} records.")))
    unstable = f.with_id("spike", "divergence")
    qa.append("**Spikes or divergence?** " + (
        "; ".join(f"{x.get('id')} in {code(x.get('metric'))}{where(x)}" for x in unstable)
        + "." if unstable else "None found."))
    frozen = f.with_id("frozen_metric")
    qa.append("**Is everything that should learn, learning?** " + (
        "No: " + "; ".join(f"{code(x.get('metric'))} never changes" for x in frozen) + "."
        if frozen else "No logged quantity is frozen."))
    sat = f.with_id("weight_saturated")
    if f.has("d_weight"):
        qa.append("**Is the adaptive weight adapting?** " + (
            "No: " + "; ".join(f"{code(x.get('metric'))} is pinned at "
                               f"{evidence_text((x.get('evidence') or {}).get('value'))}"
                               for x in sat) + " (weight_saturated, see the discriminator section)."
            if sat else "Yes: no weight is pinned at an extreme."))
    lr = f.with_id("lr_zero")
    if f.has("lr"):
        qa.append("**Is the learning rate what was configured?** " + (
            "The log says 0 in every record"
            + (f"; the config says lr = {num(f.cfg('lr'))}" if f.cfg("lr") is not None else
               "; the config is not in these records")
            + ". Most likely print precision (`{:.5f}` prints 5e-6 as 0.00000), since the "
            "losses keep changing; a broken schedule cannot be ruled out from these records."
            if lr else f"lr is logged and non-zero (latest {num(f.m('lr').get('last'))})."))
    plateau = f.with_id("plateau")
    if plateau:
        qa.append("**Has training stalled?** " + "; ".join(
            f"{code(x.get('metric'))}: {sentence(x.get('message'))}" for x in plateau))
    sec.add(Bullets(qa))
    if f.findings:
        sec.add(Paragraph("**All findings** (most severe first)"),
                Table(["Severity", "Finding", "Metric", "What", "Evidence"],
                      [[str(x.get("severity")), f"**{x.get('id')}**",
                        code(x.get("metric")) if x.get("metric") else "run",
                        str(x.get("message", "")), evidence_text(x.get("evidence"))]
                       for x in f.findings]))
    return [sec]


def recommendations(f: Facts, figures: dict[str, str]) -> list[Section]:
    sec = Section("Recommendations", "recommendations")
    items = []
    for x in f.findings:
        rec = x.get("recommendation")
        if rec:
            items.append(f"{rec} (→ **{x.get('id')}**)")
    if not f.s.get("evaluation"):
        items.append("Evaluate the final checkpoint (`radiovae eval --checkpoint …`) for NMSE / "
                     "RMSE / SSIM / PSNR and the latent scale_factor: the training losses alone "
                     "do not show reconstruction quality on held-out maps.")
    sec.add(Bullets(items) if items else Paragraph("No findings call for action."))
    return [sec]


def evaluation(f: Facts, figures: dict[str, str]) -> list[Section]:
    if not f.s.get("evaluation"):
        return []
    ev = f.s.get("evaluation") or {}
    sec = Section("Evaluation", "evaluation")
    rows = [[name.upper() if name != "scale_factor" else "scale_factor", num(ev.get(name))]
            for name in ("nmse", "rmse", "ssim", "psnr", "scale_factor") if name in ev]
    what = []
    if ev.get("checkpoint"):
        what.append(f"checkpoint {code(ev['checkpoint'])}")
    if ev.get("split"):
        what.append(f"split {code(ev['split'])}")
    if ev.get("n_images"):
        what.append(f"{ev['n_images']} images")
    sec.add(Paragraph("Reconstruction quality on held-out maps"
                      + (f" ({', '.join(what)})" if what else "") + ". NMSE and RMSE on gray "
                      "levels in [0, 1] (lower is better), SSIM (higher is better, 1 = identical), "
                      "PSNR in dB; scale_factor is 1/std of the latents, the factor RadioDiff's "
                      "diffusion stage multiplies latents by."),
            Table(["Metric", "Value"], rows, [False, True]))
    latent = ev.get("latent")
    if isinstance(latent, dict) and latent:
        sec.add(Paragraph("Latent statistics: " + "; ".join(
            f"{k} = {evidence_text(v)}" for k, v in latent.items()) + "."))
    if "eval_grid" in figures:
        sec.add(Figure(figures["eval_grid"], "Inputs, reconstructions and |error| (evaluation "
                                             "samples)."))
    return [sec]


def _confidence(f: Facts) -> tuple[str, list[str]]:
    """high / medium / low from data coverage: major gaps (partial, resumed without its start,
    few records) count fully, minor ones (a missing term, no evaluation) a third."""
    major, minor = [], []
    progress = f.steps.get("progress")
    if progress is None:
        major.append("the planned number of steps is unknown")
    elif progress < 0.99:
        major.append(f"the records cover {progress * 100:.0f} % of the planned steps")
    first = f.steps.get("first")
    if first and first > 2 * log_gap(f):
        major.append(f"the records start at step {first:,} (resumed; earlier steps are not in "
                     "them)")
    records = f.s.get("records") or 0
    if records < 50:
        major.append(f"only {records} records")
    if not f.has("disc_loss") and f.switch is not None:
        minor.append("the discriminator's own loss is not in the records")
    if f.with_id("lr_zero"):
        minor.append("the learning rate is not readable from the log")
    if not f.s.get("evaluation"):
        minor.append("no checkpoint evaluation")
    score = len(major) + len(minor) / 3
    level = "high" if score < 1 else ("medium" if score < 2.5 and records >= 20 else "low")
    return level, major + minor


def conclusion(f: Facts, figures: dict[str, str]) -> list[Section]:
    sec = Section("Conclusion", "conclusion")
    level, reasons = _confidence(f)
    word = {"healthy": "healthy", "attention": "in need of attention", "failing": "failing"}.get(
        f.verdict, f.verdict)
    serious = [x for x in f.findings if x.get("severity") in ("critical", "warning")]
    text = (f"**The run is {word}.**" if f.verdict != "healthy" or level == "high" else
            "**The run looks healthy as far as these records show.**")
    if not serious:
        text += " " + reason(f)
    if serious:
        text += (" The issues to fix first: " + "; ".join(
            f"{x.get('id')} ({x.get('metric') or 'run'})" for x in serious[:5]) + ".")
    sec.add(Paragraph(text, f"verdict-{f.verdict}"))
    sec.add(Paragraph(f"**Confidence: {level}**" + (
        " — " + "; ".join(reasons) + "." if reasons else
        " — the records cover the whole planned run, with an evaluation.")))
    return [sec]
