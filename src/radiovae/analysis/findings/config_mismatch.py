"""``config_mismatch``: records that RadioDiff's trainer could not have written with their config.

With ``gradient_accumulate_every`` 2 or more, RadioDiff's train_vae.py logs a second line per
logged step (disc_loss, logits_real, logits_fake: pass 1, the discriminator's), from step 0 on,
whatever disc_start says. A RadioDiff log whose config says so but which holds no such line was
written by another trainer, edited, or carries another run's config: every judgement that reads
the config should be taken with that in mind.
"""

from __future__ import annotations

import numpy as np

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.runlog.formats import Format

ID = "config_mismatch"


def detect(ctx: Context) -> list[Finding]:
    ga = ctx.config.get("gradient_accumulate_every")
    if ctx.kind != "vae" or ga is None or int(ga) < 2 or Format.RADIODIFF_LOG not in ctx.formats:
        return []
    disc = [ctx.col(r) for r in ("disc_loss", "logits_real", "logits_fake")]
    if any(c is not None and np.isfinite(c).any() for c in disc):
        return []
    msg = (f"the config sets gradient_accumulate_every = {int(ga)}, under which RadioDiff's "
           "train_vae.py logs a discriminator line (disc_loss, logits) at every logged step, "
           f"yet none of the {len(ctx.step):,} records has one: this log does not match its "
           "config (another trainer, an edited log, or another run's config).")
    return [finding(ID, "info", None, msg, gradient_accumulate_every=int(ga),
                    records=int(len(ctx.step)))]


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    return ("Check which trainer and config wrote this log before trusting what the report reads "
            "from the config.")
