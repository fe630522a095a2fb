"""What the report says: the summary and the run's table turned into sections, once.

Every status word and every judgement below follows from the summary's findings and numbers;
nothing is praised that they do not support. The explanations are RadioDiff's first-stage loss:
``total = nll + kl_weight·KL + d_weight·disc_factor·g_loss`` with ``nll = rec/exp(logvar) + logvar``
summed over pixels, and ``d_weight = clamp(‖∇nll‖/‖∇g_loss‖, 0, 1e4)·disc_weight``.
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radiovae.analysis.findings import recompute_total
from radiovae.fmt import duration, num, pct, when
from radiovae.report.document import Bullets, Document, Figure, Paragraph, Section, Table, code
from radiovae.report.marks import finding_range, finding_steps
from radiovae.report.series import resolve_roles

SEVERITIES = ("critical", "warning", "info")
_SEV_RANK = {s: i for i, s in enumerate(SEVERITIES)}
STATUS_WORDS = {"ok": "OK: no findings", "info": "info", "warning": "WARNING",
                "critical": "CRITICAL"}


def evidence_text(evidence: Any, limit: int = 8, depth: int = 0) -> str:
    """A finding's evidence as one line: ``key = value; ...``; long lists are cut with a count,
    nested records (sample rows) are counted, not spelled out: summary.json has them all."""
    if evidence is None or evidence == {} or evidence == []:
        return "—"
    if isinstance(evidence, dict):
        if depth > 0:
            return "{…}"
        return "; ".join(f"{k} = {evidence_text(v, limit, depth + 1)}" for k, v in evidence.items())
    if isinstance(evidence, (list, tuple)):
        if any(isinstance(v, (dict, list, tuple)) for v in evidence):
            return f"{len(evidence)} records (in summary.json)"
        shown = ", ".join(evidence_text(v, limit, depth + 1) for v in evidence[:limit])
        return f"[{shown}{f', … ({len(evidence)} in all)' if len(evidence) > limit else ''}]"
    if isinstance(evidence, bool) or not isinstance(evidence, (int, float)):
        return str(evidence)
    if isinstance(evidence, int) and abs(evidence) >= 1000:
        return f"{evidence:,}"
    return num(evidence)


# -- the facts the narrative uses ---------------------------------------------------------------
class Facts:
    """Summary + table, with the few derived numbers the text needs (phase means, term sizes)."""

    def __init__(self, table: pd.DataFrame, summary: dict[str, Any]):
        self.t = table
        self.s = summary
        self.metrics: dict[str, dict] = summary.get("metrics") or {}
        self.roles = resolve_roles([*self.metrics, *table.columns])
        self.findings = sorted(summary.get("findings") or [],
                               key=lambda f: _SEV_RANK.get(f.get("severity"), 3))
        self.config = summary.get("config") or {}
        self.steps = summary.get("steps") or {}
        self.phases = summary.get("phases") or []
        self.verdict = summary.get("verdict") or "unknown"
        self._phase_cache: dict[str, pd.DataFrame] = {}
        self._means: dict[tuple[int, str], tuple[pd.DataFrame, float | None]] = {}

    def name(self, role: str) -> str | None:
        return self.roles.get(role)

    def m(self, role: str) -> dict:
        name = self.roles.get(role)
        return self.metrics.get(name, {}) if name else {}

    def has(self, role: str) -> bool:
        return role in self.roles and self.roles[role] in self.t.columns

    def col(self, role: str) -> np.ndarray:
        return self.t[self.roles[role]].to_numpy(dtype=float)

    def about(self, role_or_name: str, *ids: str) -> list[dict]:
        name = self.roles.get(role_or_name, role_or_name)
        return [f for f in self.findings
                if f.get("metric") == name and (not ids or f.get("id") in ids)]

    def with_id(self, *ids: str) -> list[dict]:
        return [f for f in self.findings if f.get("id") in ids]

    def cfg(self, key: str) -> float | None:
        v = self.config.get(key)
        try:
            return float(v) if v is not None else None
        except (TypeError, ValueError):
            return None

    @cached_property
    def log_gap(self) -> int:
        """Steps between records: the config's log_freq, else the typical step difference."""
        freq = self.cfg("log_freq")
        if freq:
            return int(freq)
        st = self.t["step"].to_numpy()[:2001]
        return int(np.median(np.diff(st))) if len(st) > 2 else 1

    @cached_property
    def _sample(self) -> np.ndarray:
        """≤ 5,000 evenly spaced row indices: medians of ratios need no more."""
        n = len(self.t)
        return np.unique(np.linspace(0, n - 1, min(n, 5000)).astype(int)) if n else np.arange(0)

    def sampled(self, role: str) -> np.ndarray:
        return self.t[self.roles[role]].to_numpy(dtype=float)[self._sample]

    @cached_property
    def kl_weight(self) -> tuple[float | None, str]:
        """(kl_weight, "config" | "inferred"): from the config, else from the logged terms as
        median((total − nll − d_weight·disc_factor·g_loss) / KL), two significant digits."""
        v = self.cfg("kl_weight")
        if v is not None:
            return v, "config"
        if not all(self.has(r) for r in ("total", "nll", "kl")):
            return None, ""
        loss = recompute_total(self.t, {}, adversarial_optional=True)   # the analysis' estimate
        w = loss["kl_weight"] if loss is not None else None
        if w is None or not w > 0:
            return None, ""
        return float(f"{w:.2g}"), "inferred"

    def phase_rows(self, name: str) -> pd.DataFrame:
        if name not in self._phase_cache:
            self._phase_cache[name] = self._phase_rows(name)
        return self._phase_cache[name]

    def _phase_rows(self, name: str) -> pd.DataFrame:
        """The phase's rows as a slice (the table is sorted by step: no boolean-mask copy)."""
        for p in self.phases:
            if p.get("name") == name and p.get("start_step") is not None:
                st = self.t["step"].to_numpy()
                lo = np.searchsorted(st, p["start_step"], side="left")
                end = p.get("end_step")
                hi = np.searchsorted(st, end, side="right") if end is not None else len(st)
                return self.t.iloc[lo:hi]
        return self.t.iloc[0:0]

    def mean(self, rows: pd.DataFrame, role: str) -> float | None:
        """Mean of the finite values of ``role`` in ``rows`` (cached; the rows are kept alive
        with the value so that their id cannot be reused)."""
        if not self.has(role) or rows.empty:
            return None
        key = (id(rows), role)
        if key not in self._means:
            v = rows[self.roles[role]].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            self._means[key] = (rows, float(v.mean()) if len(v) else None)
        return self._means[key][1]

    @property
    def switch(self) -> int | None:
        for p in self.phases:
            if p.get("name") == "vae_gan":
                return p.get("start_step")
        return None

    @property
    def configured_switch(self) -> int | None:
        for p in self.phases:
            if p.get("name") == "vae_gan" and p.get("configured_start") is not None:
                return p["configured_start"]
        v = self.cfg("disc_start")
        return int(v) if v is not None else None


def _label(f: dict) -> str:
    metric = f.get("metric")
    where = f" ({code(metric)})" if metric else ""
    return f"**{f.get('severity')} · {f.get('id')}**{where}"


def sentence(text: Any) -> str:
    """A message as a sentence: stripped, ending in a full stop."""
    text = str(text or "").strip()
    if not text:
        return text
    return text if text[-1] in ".!?" else text + "."


def _reason(f: Facts) -> str:
    """The summary's verdict reason as a sentence (capitalized: it is ours, not a metric name)."""
    text = sentence(f.s.get("verdict_reason"))
    return text[:1].upper() + text[1:]


def _finding_line(f: dict) -> str:
    return f"{_label(f)}: {sentence(f.get('message'))}"


def _where(f: dict) -> str:
    """' at step 70,000' / ' at steps a, b' / ' from step 121,300' (divergence) / ''."""
    steps = finding_steps(f)
    if not steps:
        return ""
    if f.get("id") == "divergence":
        return f" from step {steps[0]:,}"
    return f" at step{'s' if len(steps) > 1 else ''} {_steps_text(f)}"


def _steps_text(f: dict, limit: int = 6) -> str:
    ev = f.get("evidence") if isinstance(f.get("evidence"), dict) else {}
    lo = next((ev[k] for k in ("first_step", "start_step") if ev.get(k) is not None), None)
    hi = next((ev[k] for k in ("last_step", "end_step") if ev.get(k) is not None), None)
    if lo is not None and hi is not None and not ev.get("steps"):
        return f"{int(lo):,}–{int(hi):,}"
    steps = finding_steps(f)
    if not steps:
        return ""
    shown = ", ".join(f"{s:,}" for s in steps[:limit])
    return shown + (f" … ({len(steps)} steps)" if len(steps) > limit else "")


# -- sections -------------------------------------------------------------------------------------
def build_document(table: pd.DataFrame, summary: dict[str, Any], figures: dict[str, str],
                   figures_step: int | None = None) -> Document:
    """The whole report. ``figures`` maps figure key -> path relative to the report directory."""
    f = Facts(table, summary)
    sections = [
        _executive(f),
        _identity(f),
        _statistics(f),
        *_loss_sections(f, figures),
        _figure_section("overview", "Training overview", figures,
                        "The four losses side by side (raw and rolling median, same marks as above).",
                        _overview_text(f)),
        _figure_section("normalized", "Normalized comparison", figures,
                        "Each loss scaled to [0, 1] over its own 0.5–99.5 % range: compare shapes "
                        "and timing, not sizes.", _normalized_text(f)),
        _figure_section("multi_axis", "Multi-axis analysis", figures,
                        "Rolling medians of each loss on its own y-axis (right-hand axes offset), "
                        "so that curves of very different magnitude can be read together.", _multi_axis_text(f)),
        _figure_section("dashboard", "Complete dashboard", figures,
                        "Losses, learning rate, d_weight, phases and every finding on one page.",
                        []),
        _phase_analysis(f),
        _concerns(f),
        _recommendations(f),
    ]
    if summary.get("evaluation"):
        sections.append(_evaluation(f, figures))
    sections.append(_conclusion(f))
    if figures_step is not None and figures_step != f.steps.get("last"):
        sections[0].blocks.insert(1, Paragraph(
            f"Figures were drawn at step {figures_step:,}; the text is up to date to step "
            f"{f.steps.get('last', 0):,} (figures are redrawn less often while watching).", "note"))
    sources = [s.get("source", "?") for s in summary.get("segments") or []]
    names = ", ".join(Path(str(s)).name or str(s) for s in sources[:3])
    if len(sources) > 3:
        names += f" and {len(sources) - 3} more"
    subtitle = (f"{names or 'training records'} · steps {_steps_range(f)} · "
                f"generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
    return Document(
        title="RadioDiff VAE training report", subtitle=subtitle, verdict=f.verdict,
        sections=sections,
        footer="Generated by radiovae from the training records alone: statuses follow from the "
               "findings listed in this report; summary.json holds every number.")


def _steps_range(f: Facts) -> str:
    first, last, planned = f.steps.get("first"), f.steps.get("last"), f.steps.get("planned")
    if first is None:
        return "—"
    text = f"{first:,}–{last:,}"
    if planned:
        text += f" of {planned:,}"
    return text


def _executive(f: Facts) -> Section:
    sec = Section("Executive summary", "summary")
    word = {"healthy": "healthy", "attention": "needs attention", "failing": "failing"}.get(
        f.verdict, f.verdict)
    sec.add(Paragraph(f"**Verdict: {word}.** {_reason(f)}",
                      f"verdict-{f.verdict}"))
    steps, t = f.steps, f.s.get("time") or {}
    progress = steps.get("progress")
    coverage = (f"The records cover steps {_steps_range(f)}"
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
        sec.add(*[Paragraph(_finding_line(x)) for x in serious])
    else:
        sec.add(Paragraph("No critical or warning findings."))
    info = [x for x in f.findings if x.get("severity") == "info"]
    if info:
        sec.add(Paragraph("Also noted (info): " + " ".join(
            f"**{x.get('id')}**: {sentence(x.get('message'))}" for x in info)))
    return sec


def _identity(f: Facts) -> Section:
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
    return sec


_ROLE_ORDER = ("total", "kl", "rec", "nll", "disc_loss", "g_loss", "d_weight", "disc_factor", "logvar",
               "logits_real", "logits_fake", "lr")


def _status_cell(f: Facts, name: str, status: str | None) -> str:
    ids = [x.get("id") for x in f.findings if x.get("metric") == name
           and x.get("severity") in ("critical", "warning", "info")]
    word = STATUS_WORDS.get(status or "ok", str(status))
    if ids and status != "ok":
        word += ": " + ", ".join(dict.fromkeys(str(i) for i in ids))
    return word


def _statistics(f: Facts) -> Section:
    sec = Section("Key statistics", "statistics")
    role_names = [f.roles[r] for r in _ROLE_ORDER if r in f.roles and f.roles[r] in f.metrics]
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
    return sec


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
        steps, message = _steps_text(x), sentence(x.get("message"))
        first = (finding_range(x) or finding_steps(x) or [None])[0]
        named = first is not None and str(first) in message.replace(",", "")
        out.append(f"{_label(x)}: {message}" + (f" (steps {steps})" if steps and not named
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


def _loss_sections(f: Facts, figures: dict[str, str]) -> list[Section]:
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
        out.append(f"{_label(x)}: the learned variance scales the NLL "
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


def _figure_section(key: str, title: str, figures: dict[str, str], caption: str,
                    text: list[str]) -> Section:
    sec = Section(title, key.replace("_", "-"))
    if key in figures:
        sec.add(Figure(figures[key], caption))
    sec.add(*[Paragraph(p) for p in text])
    return sec


def _trend_groups(f: Facts) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for role in ("total", "kl", "rec", "nll", "disc_loss", "g_loss"):
        m = f.m(role)
        if m:
            groups.setdefault(str(m.get("trend") or "unknown"), []).append(
                f"{code(f.name(role))} ({pct(m.get('change_pct'))})")
    return groups


def _overview_text(f: Facts) -> list[str]:
    groups = _trend_groups(f)
    if not groups:
        return []
    return ["Trends: " + "; ".join(f"**{k}**: {', '.join(v)}" for k, v in groups.items()) + "."]


def _normalized_text(f: Facts) -> list[str]:
    out = _overview_text(f)
    if f.switch is not None:
        out.append(f"Read the curves against the switch at step {f.switch:,}: a curve that jumps "
                   "there responds to the discriminator, not to training progress.")
    return out


def _multi_axis_text(f: Facts) -> list[str]:
    parts, mags = [], []
    for role in ("total", "kl", "rec", "disc_loss", "g_loss"):
        m = f.m(role)
        if m and m.get("min") is not None:
            parts.append(f"{code(f.name(role))} {num(m['min'])} … {num(m['max'])}")
            big = max(abs(float(m["min"])), abs(float(m["max"])))
            if big > 0:
                mags.append(big)
    if not parts:
        return []
    text = "Ranges: " + "; ".join(parts) + "."
    if len(mags) >= 2 and min(mags) > 0:
        text += (f" The largest is {max(mags) / min(mags):.2g} × the smallest — which is why they "
                 "need separate axes; what each contributes to the total is set by its weight "
                 "(kl_weight, d_weight), not by its size.")
    return [text]


def _phase_analysis(f: Facts) -> Section:
    sec = Section("Phase analysis", "phases")
    if not f.phases:
        sec.add(Paragraph("No phases could be told apart in these records."))
        return sec
    roles = [r for r in ("total", "nll", "kl", "rec", "g_loss", "d_weight") if f.has(r)]
    header = ["Phase", "Steps", "Records", "Duration"] + [
        f"mean {code(str(f.name(r)).removeprefix('train/'))}" for r in roles]
    rows = []
    has_time = "time" in f.t.columns
    for p in f.phases:
        rws = f.phase_rows(p.get("name"))
        start, end = p.get("start_step"), p.get("end_step")
        dur = f"{(end - start):,} steps" if start is not None and end is not None else "—"
        if has_time and len(rws) > 1:
            tt = rws["time"].to_numpy(float)
            tt = tt[np.isfinite(tt)]
            if len(tt) > 1:
                dur += f", {duration(tt.max() - tt.min())}"
        label = {"vae": "VAE", "vae_gan": "VAE-GAN"}.get(p.get("name"), str(p.get("name")))
        rows.append([label, f"{start:,}–{end:,}" if start is not None and end is not None else "—",
                     f"{len(rws):,}", dur] + [num(f.mean(rws, r)) for r in roles])
    sec.add(Table(header, rows, [False, False, True, False] + [True] * len(roles)))
    sw, conf = f.switch, f.configured_switch
    if sw is not None:
        text = f"The discriminator is on from step {sw:,} (first record with disc_factor > 0)"
        if conf is not None:
            text += f"; the config says disc_start = {conf:,}"
            gap = sw - conf
            text += (", consistent with the logging interval" if 0 <= gap <= _log_gap(f)
                     else f", {gap:+,} steps off: check the config against the log")
        sec.add(Paragraph(text + "."))
        sec.add(*_before_after(f, sw))
    else:
        sec.add(Paragraph("Only the VAE phase is in these records: the discriminator never started"
                          + (f" (disc_start {conf:,})" if conf else "") + "."))
    return sec


def _log_gap(f: Facts) -> int:
    return f.log_gap


def _before_after(f: Facts, switch: int) -> list:
    cut = int(np.searchsorted(f.t["step"].to_numpy(), switch, side="left"))   # sorted steps
    before, after = f.t.iloc[max(0, cut - 20):cut], f.t.iloc[cut:cut + 20]
    if before.empty or after.empty:
        return []
    rows = []
    for role in ("total", "rec", "kl", "g_loss"):
        if f.has(role):
            a, b = f.mean(before, role), f.mean(after, role)
            change = pct(100 * (b - a) / abs(a)) if a not in (None, 0) and b is not None else "—"
            rows.append([code(f.name(role)), num(a), num(b), change])
    return [Paragraph(f"Around the switch (last {len(before)} records before vs. first "
                      f"{len(after)} after):"),
            Table(["Metric", "Before", "After", "Change"], rows, [False, True, True, True])]


# -- concerns, recommendations, evaluation, conclusion -------------------------------------------------
def _concerns(f: Facts) -> Section:
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
        elif 0 <= sw - conf <= _log_gap(f):
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
        "Yes: " + "; ".join(f"{code(x.get('metric'))}{_where(x)}" for x in nonfinite) + "."
        if nonfinite else
        (f"{n_nf:,} non-finite values in the records." if n_nf else
         f"None in {f.s.get('records', 0):,} records.")))
    unstable = f.with_id("spike", "divergence")
    qa.append("**Spikes or divergence?** " + (
        "; ".join(f"{x.get('id')} in {code(x.get('metric'))}{_where(x)}" for x in unstable)
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
    return sec


def _recommendation(f: Facts, x: dict) -> str | None:
    kind, metric = x.get("id"), x.get("metric")
    steps = finding_steps(x)
    span = f"{steps[0]:,}–{steps[-1]:,}" if len(steps) > 1 else (f"{steps[0]:,}" if steps else "")
    if kind == "frozen_metric" and metric and "logvar" in str(metric):
        return ("Put the loss's `logvar` in the autoencoder optimizer (e.g. "
                "`list(model.parameters()) + [loss.logvar]`), or drop it from the NLL if a fixed "
                "weighting is intended — then the log should not suggest it is learned.")
    if kind == "frozen_metric":
        return f"Check that {code(metric)} is computed from live values: it never changes."
    if kind == "lr_zero":
        lr = f.cfg("lr")
        return ("Log the learning rate with `%g` (or `{:.3e}`) instead of `{:.5f}`, so that "
                "5e-6 is visible; then confirm the schedule"
                + (f" against the config's lr = {num(lr)}." if lr is not None else "."))
    if kind == "weight_saturated":
        dw = f.cfg("disc_weight")
        return ((f"Lower disc_weight (now {num(dw)}) " if dw is not None else "Lower disc_weight ")
                + "or check the clamp: with d_weight pinned at 1e4·disc_weight the generator term "
                "is as large as the clamp allows. Log ‖∇nll‖ and ‖∇g_loss‖ at the last layer to "
                "see which one is off.")
    if kind == "discriminator_untrained":
        return ("Make sure the discriminator is stepped and logged every step: in RadioDiff's "
                "train_vae.py the discriminator update runs only at accumulation index >= 1, so "
                "with gradient_accumulate_every = 1 it never trains (radiovae's trainer updates "
                "both every step). Log disc_loss, logits_real and logits_fake to confirm.")
    if kind == "non_finite":
        return (f"Inspect {code(metric)}{_where(x)}: find the first non-finite step, resume "
                "from the checkpoint before it, and check AMP loss scaling / the learning rate.")
    if kind == "spike":
        spikes = (x.get("evidence") or {}).get("spikes") or []
        if spikes and all(e.get("explained_by_terms") is False and not e.get("mirrored_in")
                          for e in spikes):
            return (f"Check how {code(metric)} is computed and logged{_where(x)}: its logged "
                    "terms do not add up to it there, so a term is missing from the records or "
                    "the value is wrong.")
        return (f"Inspect the batches behind {code(metric)}{_where(x)}; if spikes recur, add "
                "gradient clipping or lower the learning rate.")
    if kind == "divergence":
        return (f"Stop and roll back to a checkpoint before step {steps[0]:,}" if steps else
                "Roll back to an earlier checkpoint") + (
                f": {code(metric)} diverges. Lower the learning rate or disc_weight before resuming.")
    if kind == "plateau":
        if f.about(str(metric), "divergence"):
            return None           # the divergence's recommendation covers it
        return (f"{code(metric)} has stopped improving: consider a learning-rate decay, or stop "
                "and evaluate the checkpoint.")
    if kind == "negative_total_loss":
        return ("Track rec_loss / nll_loss and the evaluation metrics (NMSE, SSIM, PSNR) as the "
                "quality signal; the total loss mixes in the adversarial term.")
    if kind == "resumed":
        first = f.steps.get("first")
        if first:
            return (f"Add the log(s) of steps before {first:,} to this report (several files "
                    "are read as one run) to see the whole run.")
        return None
    if x.get("severity") in ("warning", "critical"):
        return f"Look into {code(metric) if metric else 'the run'}" + (
            f" around steps {span}" if span else "") + f": {sentence(x.get('message'))}"
    return None


def _recommendations(f: Facts) -> Section:
    sec = Section("Recommendations", "recommendations")
    items = []
    for x in f.findings:
        rec = _recommendation(f, x)
        if rec:
            items.append(f"{rec} (→ **{x.get('id')}**)")
    if not f.s.get("evaluation"):
        items.append("Evaluate the final checkpoint (`radiovae eval --checkpoint …`) for NMSE / "
                     "RMSE / SSIM / PSNR and the latent scale_factor: the training losses alone "
                     "do not show reconstruction quality on held-out maps.")
    sec.add(Bullets(items) if items else Paragraph("No findings call for action."))
    return sec


def run_dir_of(summary: dict[str, Any]) -> Path | None:
    """The radiovae run dir the records came from (the folder of metrics.jsonl), if any."""
    for seg in summary.get("segments") or []:
        src = Path(str(seg.get("source", "")))
        if src.is_dir():
            return src
        if src.name == "metrics.jsonl" or (src.parent / "evaluation.json").is_file():
            return src.parent
    return None


def _evaluation(f: Facts, figures: dict[str, str]) -> Section:
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
    return sec


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
    if first and first > 2 * _log_gap(f):
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


def _conclusion(f: Facts) -> Section:
    sec = Section("Conclusion", "conclusion")
    level, reasons = _confidence(f)
    word = {"healthy": "healthy", "attention": "in need of attention", "failing": "failing"}.get(
        f.verdict, f.verdict)
    serious = [x for x in f.findings if x.get("severity") in ("critical", "warning")]
    text = (f"**The run is {word}.**" if f.verdict != "healthy" or level == "high" else
            "**The run looks healthy as far as these records show.**")
    if not serious:
        text += " " + _reason(f)
    if serious:
        text += (" The issues to fix first: " + "; ".join(
            f"{x.get('id')} ({x.get('metric') or 'run'})" for x in serious[:5]) + ".")
    sec.add(Paragraph(text, f"verdict-{f.verdict}"))
    sec.add(Paragraph(f"**Confidence: {level}**" + (
        " — " + "; ".join(reasons) + "." if reasons else
        " — the records cover the whole planned run, with an evaluation.")))
    return sec


def relpath(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()
