"""``radiovae compare``: several runs side by side as report.md / report.html / comparison.json
and one overlaid figure per metric. What it states comes from :mod:`radiovae.analysis.compare`;
this module lays it out.

A RUN is what ``radiovae report`` takes for one run: a file or a directory, or the files of one
resumed run joined by commas (``train_1.log,train_2.log``). A path that exists as written is
never split, so a file whose name holds a comma still works.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from radiovae.analysis.compare import SMOOTHING_WEIGHT, Comparison, Entry, RunBrief, compare
from radiovae.analysis.schema import Summary
from radiovae.errors import UserError
from radiovae.fmt import fmt_step, num
from radiovae.io import atomic_dir, atomic_write_bytes
from radiovae.procs import kill_pool, worker_pool
from radiovae.report.charts import pack
from radiovae.report.compare_figures import (
    PROGRESS,
    build_compare_charts,
    color,
    draw_compare_figures,
    title,
)
from radiovae.report.document import Bullets, Document, Figure, Paragraph, Section, Table, code
from radiovae.report.render import file_reader, to_html, to_markdown
from radiovae.report.series import Smoothing

FIGURE_DIR = "figures"
_GENERIC = {"metrics", "files", "wandb-history", "train", "logs", "csv", "history", "tb", "run"}


# -- input --------------------------------------------------------------------------------------
def split_run_spec(spec: str) -> list[Path]:
    """``a.log,b.log`` -> the two files of one resumed run; a path that exists stays whole."""
    if Path(spec).exists() or "," not in spec:
        return [Path(spec)]
    parts = [p for p in spec.split(",") if p.strip()]
    if not parts:
        raise UserError(f"{spec!r}: no path in this RUN")
    return [Path(p.strip()) for p in parts]


def default_labels(specs: Sequence[Sequence[Path]]) -> list[str]:
    """A short name per run: the last path part that says something (not ``metrics.csv`` or
    ``version_0``), with parent folders added until the names differ."""
    def parts(paths: Sequence[Path]) -> list[str]:
        p = paths[0].resolve()
        names = [p.stem if p.is_file() else p.name] + [q.name for q in p.parents if q.name]
        return names

    chains = [parts(s) for s in specs]
    extra = [f" (+{len(s) - 1} files)" if len(s) > 1 else "" for s in specs]
    depth = [next((i for i, n in enumerate(c) if n.lower() not in _GENERIC
                   and not n.startswith("version_")), 0) + 1 for c in chains]

    def names() -> list[str]:
        return ["/".join(reversed(c[:d])) + x for c, d, x in zip(chains, depth, extra, strict=True)]

    labels = names()
    while len(set(labels)) < len(labels):
        dup = {lb for lb in labels if labels.count(lb) > 1}
        grow = [d + 1 if lb in dup and d < len(c) else d
                for lb, d, c in zip(labels, depth, chains, strict=True)]
        if grow == depth:
            break
        depth = grow
        labels = names()
    return [lb if labels.count(lb) == 1 else f"{lb} #{i + 1}" for i, lb in enumerate(labels)]


def parse_labels(text: str | None, n: int) -> list[str] | None:
    if text is None:
        return None
    labels = [lb.strip() for lb in text.split(",")]
    if len(labels) != n or not all(labels):
        raise UserError(f"--labels gives {len(labels)} name(s) for {n} runs "
                        "(one non-empty name per RUN, comma-separated)")
    if len(set(labels)) != n:
        raise UserError("--labels: each run needs its own name")
    return labels


# -- document -----------------------------------------------------------------------------------
def _steps(r: RunBrief) -> str:
    text = f"{num(r.steps.first)}–{num(r.steps.last)}"
    return text + (f" of {num(r.steps.planned)}" if r.steps.planned else "")


def build_compare_document(comparison: Comparison, figures: dict[str, str]) -> Document:
    runs = comparison.runs
    labels = [r.label for r in runs]
    smoothing = comparison.smoothing
    sm_text = f"EMA {smoothing.weight:g}"
    common = comparison.common_steps

    vae = any(r.kind == "vae" for r in runs)     # stage-2 runs have no VAE-GAN switch
    overview = Section("Runs", "runs")
    overview.add(Table(
        ["run", "records from", "steps", "records"] + (["VAE → VAE-GAN (observed)"] if vae else [])
        + ["resumes inside the records", "verdict"],
        [[f"**{r.label}**", ", ".join(code(f) for f in r.formats), _steps(r),
          num(r.records)] + ([num(r.switch_step)] if vae else [])
         + [", ".join(fmt_step(s) for s in r.resume_steps) or "—", str(r.verdict)]
         for r in runs], [False, False, False, True] + ([True] if vae else []) + [False, False]))
    overview.add(Bullets([f"**{r.label}**: " + ", ".join(code(s) for s in r.sources)
                          for r in runs]))
    for same in comparison.identical:
        overview.add(Paragraph(
            f"**Warning:** **{same.runs[0]}** and **{same.runs[1]}** hold the same value in "
            f"every one of their {same.steps:,} shared steps and {same.metrics} shared "
            "metrics: they are not two independent trainings (one log repeats the other's "
            "records), whatever their configurations say."))
    if common:
        overview.add(Paragraph(
            f"Runs are aligned by training step. Steps {num(common.first_step)}–"
            f"{num(common.last_step)} are covered by every run; the column "
            f"'at step {num(common.last_step)}' compares them there."))
    else:
        overview.add(Paragraph("Runs are aligned by training step. No step range is covered by "
                               "every run, so no value is compared at a common step.", "note"))

    values = Section("Final and lowest values", "values")
    values.add(Paragraph(
        f"Smoothing: {smoothing.description} (as TensorBoard's slider at {smoothing.weight:g}), "
        "over the means of groups of consecutive records, as in the single reports' figures. "
        f"**final** is the last finite record; **final ({sm_text})** the smoothed curve there. "
        f"**lowest ({sm_text})** is the smoothed curve's minimum and its step, for the "
        "reconstruction or denoising loss only" + (
            " (NLL, rec_loss): a VAE-GAN total is negative by its adversarial term's arithmetic."
            if any(r.kind == "vae" for r in runs) else " (loss_simple).")))
    header = ["metric", "run", "column", "last step", "final", f"final ({sm_text})",
              f"lowest ({sm_text})", "at step"]
    if common:
        header.append(f"at step {num(common.last_step)} ({sm_text})")
    rows = []
    for s in comparison.series:
        for label, facts in zip(labels, s.runs, strict=True):
            if facts is None:
                continue
            if not facts.records:
                rows.append([title(s.key), label, code(facts.column), "—",
                             "no finite record", "—", "—", "—"] + (["—"] if common else []))
                continue
            row = [title(s.key), label, code(facts.column), num(facts.last_step),
                   num(facts.final), num(facts.final_smoothed),
                   num(facts.lowest_smoothed), num(facts.lowest_step)]
            if common:
                at = facts.at_common
                row.append(num(at.smoothed) if at else "—")
            rows.append(row)
    values.add(Table(header, rows, [False, False, False] + [True] * (len(header) - 3)))

    curves = Section("Curves", "curves")
    for s in comparison.series:
        present = [lb for lb, f in zip(labels, s.runs, strict=True) if f]
        legend = (f"Thin: raw records; thick: smoothed ({sm_text}, TensorBoard's debiased EMA); "
                  + ("dashed: VAE → VAE-GAN switch; " if vae else "")
                  + "dotted: resume; each in its run's colour.")
        if s.key in figures:
            curves.add(Figure(figures[s.key], (
                f"{title(s.key)} of {', '.join(present)}, aligned by training step. "
                + legend)))
        if s.key + PROGRESS in figures:
            curves.add(Figure(figures[s.key + PROGRESS], (
                f"{title(s.key)} of {', '.join(present)} over each run's own progress (step / "
                "its planned steps, or its last step when the plan is unknown): the runs' step "
                "ranges differ too much to read on one step axis. " + legend)))

    found = _only_section(comparison, labels)

    cfg = Section("Config differences", "config")
    diff = comparison.config
    if diff.differ:
        cfg.add(Table(["key"] + labels,
                      [[code(d.key)] + [_value(v) for v in d.values] for d in diff.differ]))
    else:
        cfg.add(Paragraph("No config key the runs share has different values."))
    if diff.without_config:
        cfg.add(Paragraph("No config found for: " + ", ".join(diff.without_config) + ".", "note"))
    if diff.keys_in_some_only:
        some = diff.keys_in_some_only
        cfg.add(Paragraph(f"{len(some)} key(s) appear in only some runs' configs (not compared): "
                          + ", ".join(code(k) for k in some[:12]) + (", …" if len(some) > 12 else ""),
                          "note"))

    sections = [overview, values, curves, found, cfg]
    if comparison.validation:
        val = Section("Validation", "validation")
        val.add(Paragraph("Validation metrics as logged (not smoothed), kept apart from the "
                          "training values above."))
        val.add(Table(["run", "metric", "evaluations", "last", "at step", "lowest", "at step"],
                      [[v.label, code(v.metric), num(v.evaluations), num(v.last),
                        num(v.last_step), num(v.lowest), num(v.lowest_step)]
                       for v in comparison.validation],
                      [False, False, True, True, True, True, True]))
        sections.append(val)
    subtitle = " vs ".join(labels) + f" · aligned by step · smoothing {sm_text}"
    return Document(title="Training runs compared", subtitle=subtitle, verdict="comparison",
                    sections=sections,
                    footer="radiovae compare: every number from the runs' own records.")


def _only_section(comparison: Comparison, labels: list[str]) -> Section:
    """The findings, then the causes, that only one run has (matched by id, metric role and
    severity; causes by id and severity), one table each."""
    found = Section("Findings that differ between the runs", "findings")
    only = comparison.findings.only_in
    rows = [[f"**{label}**", f.severity, code(f.id), code(f.metric) if f.metric else "—",
             f.message] for label in labels for f in only.get(label) or []]
    if rows:
        found.add(Table(["run", "severity", "finding", "metric", "message"], rows))
    else:
        found.add(Paragraph("None: every finding of each run (id, metric and severity) is "
                            "found in another run too."))
    shared = comparison.findings.shared
    found.add(Paragraph("Shared by every run: " + (", ".join(
        code(f.id) + (f" ({f.metric_role}, {f.severity})" if f.metric_role
                      else f" ({f.severity})") for f in shared)
        if shared else "none") + ". Findings are matched by id, metric role and severity: the "
        "same id at another severity counts as a finding of its own."))
    causes = comparison.causes
    finding_ids = {f.id for fs in only.values() for f in fs} | {f.id for f in shared}
    rows = [[f"**{label}**", c.severity, code(c.id), c.text, ", ".join(
                 code(x) for x in c.explains if x in finding_ids) or "—"]
            for label in labels for c in causes.only_in.get(label) or []]
    if rows:
        found.add(Paragraph("**Causes only one run has**"))
        found.add(Table(["run", "severity", "cause", "why", "explains"], rows))
    elif causes.shared:
        found.add(Paragraph("Causes: every run has the same ("
                            + ", ".join(code(c.id) for c in causes.shared) + ")."))
    return found


def _value(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return num(v)
    text = json.dumps(v, default=str) if isinstance(v, (list, dict)) else str(v)
    return code(text if len(text) <= 60 else text[:57] + "…")


# -- writing ------------------------------------------------------------------------------------
def write_comparison(entries: Sequence[Entry], out: Path,
                     weight: float = SMOOTHING_WEIGHT) -> Comparison:
    """Compare ``entries`` and write the comparison into ``out``; return the comparison.

    ``out`` follows ``report``'s rules (:func:`radiovae.report.write.check_out`): new, empty or
    one radiovae wrote; the comparison is written into a folder beside it that then replaces it
    whole, so a failure leaves ``out`` as it was."""
    from radiovae.report.write import check_out, write_marker

    check_out(out)
    comparison = compare(entries, weight)
    comparison.colors = {e.label: color(i) for i, e in enumerate(entries)}
    try:
        with atomic_dir(out) as tmp:
            write_marker(tmp, "comparison")
            drawn = draw_compare_figures(entries, comparison, tmp / FIGURE_DIR)
            rel = {k: Path(os.path.relpath(p, tmp)).as_posix() for k, p in drawn.items()}
            doc = build_compare_document(comparison, rel)
            atomic_write_bytes(tmp / "comparison.json", (json.dumps(
                comparison.to_json(), indent=2, allow_nan=False) + "\n").encode("utf-8"))
            atomic_write_bytes(tmp / "report.md", to_markdown(doc).encode("utf-8"))
            charts = pack(build_compare_charts(entries, comparison), Smoothing(weight=weight))
            atomic_write_bytes(tmp / "report.html",
                               to_html(doc, file_reader(tmp), charts=charts).encode("utf-8"))
    except OSError as e:
        why = e.strerror or (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"--out {out}: cannot write the comparison ({why}); nothing was "
                        f"changed there") from None
    return comparison


def make_comparison(specs: Sequence[Sequence[str | Path]], out: str | Path,
                    labels: Sequence[str] | None = None) -> Comparison:
    """Load and analyse each run (a list of paths: one run, resumes included), compare, write."""
    from radiovae.report.write import check_out

    paths = [[Path(p) for p in spec] for spec in specs]
    if len(paths) < 2:
        raise UserError("compare needs at least two runs (give two or more RUNs)")
    check_out(Path(out))                   # before the runs are read: refused in a moment
    labels = list(labels) if labels is not None else default_labels(paths)
    workers = min(len(paths), 2, os.cpu_count() or 1)
    if workers > 1 and "fork" in mp.get_all_start_methods():
        # reading and analysing are per run and mostly single-threaded: two at a time
        pool = worker_pool(workers)        # they end with this process
        try:
            loaded = list(pool.map(_load, paths))
        except BaseException:
            kill_pool(pool)
            raise
        finally:
            pool.shutdown()
    else:
        loaded = [_load(p) for p in paths]
    entries = [Entry(label, run, summary)
               for label, (run, summary) in zip(labels, loaded, strict=True)]
    return write_comparison(entries, Path(out))


def _load(paths: list[Path]) -> tuple[Any, Summary]:
    """One run's records and analysis (in a worker process; a UserError travels back)."""
    from radiovae.analysis import analyze
    from radiovae.runlog import load_run

    run = load_run(paths)
    return run, analyze(run)


def compare_command(args: argparse.Namespace) -> int:
    specs = [split_run_spec(s) for s in args.runs]
    labels = parse_labels(args.labels, len(specs))
    comparison = make_comparison(specs, args.out, labels)
    out = Path(args.out)
    print(f"comparison: {out / 'report.html'}  (also report.md, comparison.json, figures/)")
    for r in comparison.runs:
        print(f"  {r.label}: steps {_steps(r)}; verdict {r.verdict}")
    return 0
