"""Executive summary, run and configuration, key statistics."""

from __future__ import annotations

from radiovae.fmt import duration, num, pct, when
from radiovae.report.document import Paragraph, Section, Table, code
from radiovae.report.facts import (
    STATUS_WORDS,
    Facts,
    evidence_text,
    finding_line,
    reason,
    sentence,
    steps_range,
)


def executive(f: Facts, figures: dict[str, str]) -> list[Section]:
    sec = Section("Executive summary", "summary")
    word = {"healthy": "healthy", "attention": "needs attention", "failing": "failing"}.get(
        f.verdict, f.verdict)
    sec.add(Paragraph(f"**Verdict: {word}.** {reason(f)}",
                      f"verdict-{f.verdict}"))
    steps, t = f.steps, f.s.get("time") or {}
    progress = steps.get("progress")
    coverage = (f"The records cover steps {steps_range(f)}"
                + (f" ({progress * 100:.1f} % of the planned run)" if progress is not None else "")
                + f": {f.s.get('records', 0):,} logged steps from "
                + f"{len(f.s.get('segments') or [])} source(s)")
    if t.get("elapsed_s"):
        coverage += (f", {duration(t.get('elapsed_s'))} of wall time from "
                     f"{when(t.get('start_unix', t.get('start')))} to "
                     f"{when(t.get('end_unix', t.get('end')))}")
        if t.get("steps_per_s"):
            coverage += f" ({t['steps_per_s']:.2f} steps/s"
            coverage += (f", about {duration(t['eta_s'])} left)" if t.get("eta_s") else ")")
    coverage += "."
    if f.s.get("skipped_lines"):
        coverage += f" {f.s['skipped_lines']:,} lines that were not records were skipped."
    sec.add(Paragraph(coverage))
    serious = [x for x in f.findings if x.get("severity") in ("critical", "warning")]
    if serious:
        sec.add(*[Paragraph(finding_line(x)) for x in serious])
    else:
        sec.add(Paragraph("No critical or warning findings."))
    info = [x for x in f.findings if x.get("severity") == "info"]
    if info:
        sec.add(Paragraph("Also noted (info): " + " ".join(
            f"**{x.get('id')}**: {sentence(x.get('message'))}" for x in info)))
    return [sec]


def identity(f: Facts, figures: dict[str, str]) -> list[Section]:
    sec = Section("Run and configuration", "run")
    segs = f.s.get("segments") or []
    if segs:
        sec.add(Table(["Source", "Format", "Steps"],
                      [[code(x.get("source")), str(x.get("format") or "—"),
                        f"{x['first_step']:,}–{x['last_step']:,}"
                        if x.get("first_step") is not None and x.get("last_step") is not None
                        else "—"] for x in segs]))
    resumes = f.s.get("resumes") or []
    if resumes:
        sec.add(Paragraph("Resumes: " + "; ".join(
            (f"at step {r['step']:,}" if isinstance(r, dict) and r.get("step") is not None
             else evidence_text(r))
            + (f" (previous records reached {r['previous_last_step']:,}; "
               f"{r.get('overlap_steps') or 0:,} overlapping steps replaced by the later source)"
               if isinstance(r, dict) and r.get("previous_last_step") is not None else "")
            for r in resumes) + "."))
    if f.config:
        sec.add(Paragraph("Configuration found in the records:"),
                Table(["Key", "Value"], [[code(k), code(evidence_text(v))]
                                         for k, v in f.config.items() if k != "raw"],
                      [False, False]))
    else:
        sec.add(Paragraph("No configuration in these records (RadioDiff's log starts with the "
                          "config dict; a CSV export does not carry it)."))
    return [sec]


ROLE_ORDER = ("total", "kl", "rec", "nll", "disc_loss", "g_loss", "d_weight", "disc_factor", "logvar",
               "logits_real", "logits_fake", "lr")


def _status_cell(f: Facts, name: str, status: str | None) -> str:
    ids = [x.get("id") for x in f.findings if x.get("metric") == name
           and x.get("severity") in ("critical", "warning", "info")]
    word = STATUS_WORDS.get(status or "ok", str(status))
    if ids and status != "ok":
        word += ": " + ", ".join(dict.fromkeys(str(i) for i in ids))
    return word


def statistics(f: Facts, figures: dict[str, str]) -> list[Section]:
    sec = Section("Key statistics", "statistics")
    role_names = [f.roles[r] for r in ROLE_ORDER if r in f.roles and f.roles[r] in f.metrics]
    names = role_names + [n for n in f.metrics if n not in role_names]
    rows = []
    for name in names:
        m = f.metrics[name]
        nonfinite = m.get("n_nonfinite") or 0
        latest = num(m.get("last")) + (f" ({nonfinite} non-finite)" if nonfinite else "")
        rows.append([code(name), latest, f"{num(m.get('min'))} … {num(m.get('max'))}",
                     num(m.get("mean")), pct(m.get("change_pct")), str(m.get("trend") or "—"),
                     _status_cell(f, name, m.get("status"))])
    sec.add(Paragraph("Latest value, range and mean over every finite record; change from the first "
                      "to the latest record; trend from a robust fit on smoothed values. The status "
                      "is the most severe finding that names the metric."),
            Table(["Metric", "Latest", "Range (min … max)", "Mean", "Change", "Trend", "Status"],
                  rows, [False, True, True, True, True, False, False]))
    return [sec]
