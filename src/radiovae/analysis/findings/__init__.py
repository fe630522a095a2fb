"""The finding kinds, one module each, in detection order.

Each module has ``ID``, ``detect(ctx) -> list[Finding]`` and ``recommend(finding, ctx, found)
-> str | None``, and may set ``ON_CURVE = True`` (the figures mark its steps on its metric's
curve): detection, severity rule, message, evidence, recommendation and how it is drawn live
together. A new kind is one module, its name in :data:`NAMES`, and its tests; a kind outside
the package is added with :func:`register`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from radiovae.analysis.findings.base import SEVERITY, Context, Finding, finding

NAMES = ("non_finite", "divergence", "spike", "lr_zero", "weight_saturated",
         "discriminator_untrained", "discriminator_lapsed", "frozen_metric", "terms_disagree",
         "negative_total_loss", "plateau", "phase_change", "resumed", "stopped", "config_mismatch")
KINDS: list[ModuleType] = [importlib.import_module(f"{__name__}.{n}") for n in NAMES]
BY_ID: dict[str, ModuleType] = {k.ID: k for k in KINDS}


def register(kind: ModuleType) -> None:
    """Add a finding kind (a module, or any object, with ``ID``, ``detect`` and ``recommend``);
    detected after the built-in ones. Registering an ID twice is refused."""
    for attr in ("ID", "detect", "recommend"):
        if not hasattr(kind, attr):
            raise TypeError(f"a finding kind needs {attr!r}")
    if kind.ID in BY_ID:
        raise ValueError(f"finding kind {kind.ID!r} is already registered")
    KINDS.append(kind)
    BY_ID[kind.ID] = kind


def unregister(kind_id: str) -> None:
    kind = BY_ID.pop(kind_id)
    KINDS.remove(kind)


def on_curve(kind_id: str) -> bool:
    """Whether the figures mark this kind's steps on its metric's curve (a point event)."""
    return bool(getattr(BY_ID.get(kind_id), "ON_CURVE", False))


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


__all__ = ["BY_ID", "KINDS", "NAMES", "SEVERITY", "Context", "Finding", "detect_all", "finding",
           "on_curve", "register", "unregister"]
