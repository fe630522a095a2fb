"""Concerns, recommendations, evaluation and conclusion."""

from __future__ import annotations

from radiovae.fmt import num
from radiovae.report.document import Bullets, Figure, Paragraph, Section, Table, code
from radiovae.report.facts import (
    Facts,
    evidence_text,
    reason,
    sentence,
)


def concerns(f: Facts, figures: dict[str, str]) -> list[Section]:
    sec = Section("Concerns answered from evidence", "concerns")
    sec.add(Bullets([f"**{c.question}** {sentence(c.text)}" for c in f.s.concerns]))
    if f.findings:
        sec.add(Paragraph("**All findings** (most severe first)"),
                Table(["Severity", "Finding", "Metric", "What", "Evidence"],
                      [[x.severity, f"**{x.id}**", code(x.metric) if x.metric else "run",
                        x.message, evidence_text(x.evidence)] for x in f.findings]))
    return [sec]


def recommendations(f: Facts, figures: dict[str, str]) -> list[Section]:
    sec = Section("Recommendations", "recommendations")
    items = [r.text + (f" (→ **{r.finding}**)" if r.finding else "")
             for r in f.s.recommendations]
    sec.add(Bullets(items) if items else Paragraph("No findings call for action."))
    return [sec]


def evaluation(f: Facts, figures: dict[str, str]) -> list[Section]:
    ev = f.s.evaluation
    if ev is None:
        return []
    sec = Section("Evaluation", "evaluation")
    rows = [[label, num(value)] for label, value in (
        ("NMSE", ev.nmse), ("RMSE", ev.rmse), ("SSIM", ev.ssim), ("PSNR", ev.psnr),
        ("scale_factor", ev.scale_factor)) if value is not None]
    what = []
    if ev.checkpoint:
        what.append(f"checkpoint {code(ev.checkpoint)}")
    if ev.split:
        what.append(f"split {code(ev.split)}")
    if ev.n_images:
        what.append(f"{ev.n_images} images")
    sec.add(Paragraph("Reconstruction quality on held-out maps"
                      + (f" ({', '.join(what)})" if what else "") + ". NMSE and RMSE on gray "
                      "levels in [0, 1] (lower is better), SSIM (higher is better, 1 = identical), "
                      "PSNR in dB; scale_factor is 1/std of the latents, the factor RadioDiff's "
                      "diffusion stage multiplies latents by."),
            Table(["Metric", "Value"], rows, [False, True]))
    latent = ev.latent
    if latent:
        sec.add(Paragraph("Latent statistics: " + "; ".join(
            f"{k} = {evidence_text(v)}" for k, v in latent.items()) + "."))
    if "eval_grid" in figures:
        sec.add(Figure(figures["eval_grid"], "Inputs, reconstructions and |error| (evaluation "
                                             "samples)."))
    return [sec]


def conclusion(f: Facts, figures: dict[str, str]) -> list[Section]:
    sec = Section("Conclusion", "conclusion")
    level, reasons = f.s.confidence.level, f.s.confidence.reasons
    word = {"healthy": "healthy", "attention": "in need of attention", "failing": "failing",
            "too_short": "too short to judge"}.get(f.verdict, f.verdict)
    serious = [x for x in f.findings if x.severity in ("critical", "warning")]
    text = (f"**The run is {word}.**" if f.verdict != "healthy" or level == "high" else
            "**The run looks healthy as far as these records show.**")
    if f.verdict == "healthy":
        text += " Healthy means free of faults in training, not ready for stage 2: see that answer."
    text += f" State: {f.s.state.state}; {sentence(f.s.state.evidence)}"
    if not serious:
        text += " " + reason(f)
    if serious:
        text += (" The issues to fix first: " + "; ".join(
            f"{x.id} ({x.metric or 'run'})" for x in serious[:5]) + ".")
    sec.add(Paragraph(text, f"verdict-{f.verdict}"))
    sec.add(Paragraph(f"**Confidence: {level}**" + (
        " — " + "; ".join(reasons) + "." if reasons else
        " — the run finished, its records cover it, and it has an evaluation.")))
    return [sec]
