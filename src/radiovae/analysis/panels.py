"""Which metrics a run's figures are made of, by the kind of run (read from its summary).

A first-stage VAE run gets the eight VAE figures. A stage-2 run (RadioDiff's train_cond_ldm.py)
or a run of unknown kind gets its own metrics only: total loss, loss_simple, loss_vlb and the lr,
those it logs; never an empty KL / reconstruction / discriminator panel. loss_vlb is left out when
it is 0 in every record: RadioDiff's const-SDE model sets loss_vlb = 0, so a flat line at 0
would say nothing the caption cannot.
"""

from __future__ import annotations

from radiovae.analysis.schema import Summary

STAGE2_ROLES = ("total", "loss_simple", "loss_vlb", "lr")


def logged_zero(summary: Summary, role: str) -> bool:
    """The metric playing ``role`` has records and every one of them is exactly 0."""
    name = summary.roles.get(role)
    m = summary.metrics.get(name) if name else None
    if m is None or not m.n or m.n_nonfinite:
        return False
    return m.min == 0 and m.max == 0


def stage2_roles(summary: Summary) -> list[str]:
    """The roles a non-VAE run's figures show, in panel order: those it logs, loss_vlb only when
    it is not 0 throughout."""
    return [r for r in STAGE2_ROLES if r in summary.roles
            and not (r == "loss_vlb" and logged_zero(summary, r))]
