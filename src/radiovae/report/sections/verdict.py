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
    sec.add(Bullets([f"**{c['question']}** {sentence(c['text'])}"
                     for c in f.s.get("concerns") or []]))
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
    items = [r["text"] + (f" (→ **{r['finding']}**)" if r.get("finding") else "")
             for r in f.s.get("recommendations") or []]
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


def conclusion(f: Facts, figures: dict[str, str]) -> list[Section]:
    sec = Section("Conclusion", "conclusion")
    conf = f.s.get("confidence") or {}
    level, reasons = conf.get("level", "low"), conf.get("reasons") or []
    word = {"healthy": "healthy", "attention": "in need of attention", "failing": "failing",
            "too_short": "too short to judge"}.get(f.verdict, f.verdict)
    serious = [x for x in f.findings if x.get("severity") in ("critical", "warning")]
    text = (f"**The run is {word}.**" if f.verdict != "healthy" or level == "high" else
            "**The run looks healthy as far as these records show.**")
    if f.verdict == "healthy":
        text += " Healthy means free of faults in training, not ready for stage 2: see that answer."
    state = f.s.get("state") or {}
    if state.get("state"):
        text += f" State: {state['state']}; {sentence(state.get('evidence'))}"
    if not serious:
        text += " " + reason(f)
    if serious:
        text += (" The issues to fix first: " + "; ".join(
            f"{x.get('id')} ({x.get('metric') or 'run'})" for x in serious[:5]) + ".")
    sec.add(Paragraph(text, f"verdict-{f.verdict}"))
    sec.add(Paragraph(f"**Confidence: {level}**" + (
        " — " + "; ".join(reasons) + "." if reasons else
        " — the run finished, its records cover it, and it has an evaluation.")))
    return [sec]
