"""The report's sections, in order: each is ``(facts, figures) -> list[Section]`` (empty when it
does not apply), and only formats what the summary holds."""

from __future__ import annotations

from collections.abc import Callable

from radiovae.report.document import Section
from radiovae.report.facts import Facts
from radiovae.report.sections import figures_text, losses, phases, run, verdict

SectionBuilder = Callable[[Facts, dict[str, str]], list[Section]]

SECTIONS: tuple[SectionBuilder, ...] = (
    run.executive,
    run.direct_answers,
    run.details,
    run.identity,
    run.statistics,
    losses.loss_sections,
    figures_text.overview,
    figures_text.normalized,
    figures_text.multi_axis,
    figures_text.dashboard,
    phases.phase_analysis,
    verdict.concerns,
    verdict.recommendations,
    verdict.evaluation,
    verdict.conclusion,
)
