"""Executive summary, direct answers, run and configuration, key statistics."""

from __future__ import annotations

import re

from radiovae.analysis.schema import ReadNote
from radiovae.analysis.stats import trend_text
from radiovae.fmt import duration, num, when
from radiovae.report.document import Bullets, Paragraph, Section, Table, code
from radiovae.report.facts import (
    STATUS_WORDS,
    Facts,
    change_text,
    evidence_text,
    finding_line,
    label,
    reason,
    sentence,
    steps_range,
)

KIND_WORDS = {"vae": "first-stage VAE / VAE-GAN", "ldm": "stage-2 latent diffusion",
              "unknown": "unrecognised kind of training"}


def _read_note(n: ReadNote) -> str:
    """One thing the readers could not read as written: where (file, line) and what."""
    where = str(n.source).replace("\\", "/").rsplit("/", 1)[-1]
    if n.line is not None:
        where += f" line {n.line:,}"
    return f"{code(where)}: {code(n.what)}" if where else code(n.what)


VERDICT_WORDS = {"healthy": "healthy", "attention": "needs attention", "failing": "failing",
                 "too_short": "too short to judge"}
STATE_WORDS = {"finished": "Finished", "stopped": "Stopped", "running": "Running",
               "unknown": "State unknown"}
HEADLINE_WORDS = 40


def headline(text: str, words: int = HEADLINE_WORDS) -> str:
    """A finding's first sentence, at most ``words`` words (the full text is in the details)."""
    text = str(text or "").strip()
    first = re.split(r"(?<=[a-z0-9)%])\. (?=[A-Z])", text, maxsplit=1)[0].rstrip(".")
    parts = first.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else ".")


def executive(f: Facts, figures: dict[str, str]) -> list[Section]:
    """At most five short lines: verdict, state, the findings that matter most; details after."""
    sec = Section("Executive summary", "summary")
    word = VERDICT_WORDS.get(f.verdict, f.verdict)
    sec.add(Paragraph(f"**Verdict: {word}.** {reason(f)}", f"verdict-{f.verdict}"))
    st = f.s.state.state
    sec.add(Paragraph(f"**{STATE_WORDS.get(st, st)}:** {sentence(f.s.state.evidence)}"))
    # the state line already says a run stopped: its finding is not repeated here
    serious = [x for x in f.findings if x.severity in ("critical", "warning")
               and x.id != "stopped"]
    for x in serious[:3]:
        sec.add(Paragraph(f"{label(x)}: {headline(x.message)}"))
    if not serious and not any(x.id == "stopped" for x in f.findings):
        sec.add(Paragraph("No critical or warning findings"
                          + (f"; {len(f.findings)} info finding(s) below." if f.findings
                             else ".")))
    elif len(serious) > 3:
        sec.add(Paragraph(f"… and {len(serious) - 3} more warning(s) below."))
    return [sec]


def details(f: Facts, figures: dict[str, str]) -> list[Section]:
    return [_details(f)]


def _details(f: Facts) -> Section:
    """What the records cover, and every finding's full text."""
    sec = Section("Findings in detail", "details")
    if f.kind != "vae":
        sec.add(Paragraph(
            "These records are from a " + KIND_WORDS.get(f.kind, f.kind) + " run"
            + (" (RadioDiff's train_cond_ldm.py logs loss_simple, loss_vlb, total_loss and lr)"
               if f.kind == "ldm" else ": neither a first-stage VAE nor a stage-2 diffusion "
               "run") + ". Only what applies to any training is judged: the losses, the "
            "learning rate, spikes, divergence, plateaus, non-finite values and resumes."))
    t = f.s.time
    coverage = (f"The records cover steps {steps_range(f)}: {f.s.records:,} logged "
                f"steps from {len(f.s.segments)} source(s)")
    if t.elapsed_s:
        coverage += (f", {duration(t.elapsed_s)} of wall time from "
                     f"{when(t.start_unix)} to {when(t.end_unix)}")
        if t.steps_per_s:
            coverage += f" ({t.steps_per_s:.2f} steps/s"
            coverage += (f", about {duration(t.eta_s)} left)" if t.eta_s else ")")
    coverage += "."
    if f.s.skipped_lines:
        coverage += f" {f.s.skipped_lines:,} lines that were not records were skipped."
    sec.add(Paragraph(coverage))
    notes = f.s.read_notes
    if notes:
        count = max(f.s.read_note_count or 0, len(notes))
        sec.add(Paragraph(f"Not read as written: {count:,} in all; the first {len(notes)}:"),
                Bullets([_read_note(n) for n in notes]))
    serious = [x for x in f.findings if x.severity in ("critical", "warning")]
    sec.add(*[Paragraph(finding_line(x)) for x in serious])
    info = [x for x in f.findings if x.severity == "info"]
    if info:
        sec.add(Paragraph("Also noted (info):"),
                Bullets([f"**{x.id}**" + (f" ({code(x.metric)})" if x.metric else "")
                         + f": {sentence(x.message)}" for x in info]))
    causes = f.s.causes
    if causes:
        said = {x.id for x in f.findings}
        sec.add(Paragraph("**Causes**: what in the configuration, or in the trainer's code, makes "
                          "the records look as they do."),
                Bullets([f"**{c.id}** ({c.severity}): {sentence(c.text)}"
                         + (f" Explains: {', '.join(e for e in c.explains if e in said)}."
                            if any(e in said for e in c.explains) else "")
                         for c in causes]))
    return sec


def direct_answers(f: Facts, figures: dict[str, str]) -> list[Section]:
    answers = f.s.answers
    if not answers:
        return []
    sec = Section("Direct answers", "answers")
    sec.add(Bullets([f"**{a.question}** **{a.answer}** — {sentence(a.text)}" for a in answers]))
    return [sec]


def identity(f: Facts, figures: dict[str, str]) -> list[Section]:
    sec = Section("Run and configuration", "run")
    sec.add(Paragraph(f"Kind of run: {KIND_WORDS.get(f.kind, f.kind)}."))
    segs = f.s.segments
    if segs:
        sec.add(Table(["Source", "Format", "Steps", "First record"],
                      [[code(x.source), str(x.format or "—"),
                        f"{x.first_step:,}–{x.last_step:,}"
                        if x.first_step is not None and x.last_step is not None
                        else "—", when(x.first_time)] for x in segs]))
    resumes = [r for r in f.s.resumes if r.step is not None]
    if resumes:
        sec.add(Paragraph("Resumes: " + "; ".join(
            f"at step {r.step:,}"
            + (f" (previous records reached {r.previous_last_step:,}; "
               f"{r.overlap_steps or 0:,} overlapping steps replaced by the later source)"
               if r.previous_last_step is not None else "")
            for r in resumes) + "."))
    sources = f.s.config_sources
    given = {k for k in f.config if sources.get(k) == "command line"}
    recorded = set(f.config) - given
    if not recorded - {"total_steps"}:
        sec.add(Paragraph("No configuration in these records (RadioDiff's log starts with the "
                          "config dict; a CSV export does not carry it)"
                          + (f"; the planned steps ({f.config['total_steps']:,}) come from the "
                             "records" if "total_steps" in recorded else "") + "."))
    if given or recorded - {"total_steps"}:
        sec.add(Paragraph("Configuration used:"),
                Table(["Key", "Value", "Source"],
                      [[code(k), code(evidence_text(v)), sources.get(k, "records")]
                       for k, v in f.config.items() if k != "raw"], [False, False, False]))
    unchecked = f.s.confidence.could_not_check
    if unchecked:
        sec.add(Paragraph("Without the run's config file, these could not be checked: "
                          + "; ".join(unchecked)
                          + ". This lowers the confidence of the report; it changes no "
                          "finding's severity."))
    return [sec]


ROLE_ORDER = ("total", "kl", "rec", "nll", "disc_loss", "g_loss", "d_weight", "disc_factor",
              "logvar", "logits_real", "logits_fake", "lr")


def _status_cell(f: Facts, name: str, status: str | None) -> str:
    ids = [x.id for x in f.findings if x.metric == name]
    word = STATUS_WORDS.get(status or "ok", str(status))
    if ids and status != "ok":
        word += ": " + ", ".join(dict.fromkeys(str(i) for i in ids))
    return word


def statistics(f: Facts, figures: dict[str, str]) -> list[Section]:
    sec = Section("Key statistics", "statistics")
    role_names = [f.roles[r] for r in ROLE_ORDER if r in f.roles]
    names = role_names + [n for n in f.metrics if n not in role_names]
    rows = []
    for name in names:
        m = f.metrics[name]
        nonfinite = m.n_nonfinite or 0
        latest = num(m.last) + (f" ({nonfinite} non-finite)" if nonfinite else "")
        rows.append([code(name) + (" (VAE-GAN phase)" if m.over == "vae_gan" else ""),
                     latest, "— (step)" if m.trend == "step" else num(m.last_smoothed),
                     f"{num(m.min)} … {num(m.max)}", num(m.mean),
                     change_text(m), trend_text(m), _status_cell(f, name, m.status)])
    sm = f.s.smoothing
    sec.add(Paragraph(
        "Latest: the last record, raw. Smoothed: where the figures' smoothed line ends ("
        f"{sm.method}, weight {sm.weight}, "
        "over the same groups of records as the figures). A step-like series (a few distinct "
        "levels, such as disc_factor or a print-rounded lr) is not smoothed. Range and mean over "
        "every finite record. Change: between the medians of the first and the last tenth of "
        "the records, in % where that means something, else absolute (a sign change, or a "
        "start near zero). Trend: Mann-Kendall and Theil-Sen on block medians; \"level since "
        "step X\": the tail from X on no longer moves. Status: the most severe finding that "
        "names the metric."),
        Table(["Metric", "Latest", "Smoothed", "Range (min … max)", "Mean", "Change", "Trend",
               "Status"], rows, [False, True, True, True, True, True, False, False]))
    return [sec]


def _last_share(weight) -> str:
    """The share of the smoothed latest that the last record carries (1 - weight for an EMA)."""
    try:
        return f"{(1 - float(weight)) * 100:.0f} %"
    except (TypeError, ValueError):
        return "a share"
