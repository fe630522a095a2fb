"""The finding kinds, one module each, in detection order.

Each module has ``ID``, ``detect(ctx) -> list[Finding]`` and ``recommend(finding, ctx, found)
-> str | None``: detection, severity rule, message, evidence and recommendation of one kind live
together. A new kind is one module, one line below and its tests.
"""

from __future__ import annotations

from radiovae.analysis.findings import (
    config_mismatch,
    discriminator_untrained,
    divergence,
    frozen_metric,
    lr_zero,
    negative_total_loss,
    non_finite,
    phase_change,
    plateau,
    resumed,
    spike,
    stopped,
    terms_disagree,
    weight_saturated,
)
from radiovae.analysis.findings.base import SEVERITY, Context, Finding, finding

KINDS = (non_finite, divergence, spike, lr_zero, weight_saturated, discriminator_untrained,
         frozen_metric, terms_disagree, negative_total_loss, plateau, phase_change, resumed,
         stopped, config_mismatch)
BY_ID = {k.ID: k for k in KINDS}


def detect_all(ctx: Context) -> list[Finding]:
    """Every finding, most severe first (detection order within a level), with its
    recommendation."""
    found: list[Finding] = []
    for kind in KINDS:
        found += kind.detect(ctx)
    found.sort(key=lambda f: -SEVERITY[f.severity])
    for f in found:
        f.recommendation = BY_ID[f.id].recommend(f, ctx, found)
    return found


__all__ = ["BY_ID", "KINDS", "SEVERITY", "Context", "Finding", "detect_all", "finding"]
