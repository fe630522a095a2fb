"""``phase_change``: the discriminator switched on (disc_factor 0 -> 1): VAE, then VAE-GAN."""

from __future__ import annotations

from typing import Any

import numpy as np

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.fmt import num

ID = "phase_change"


def detect(ctx: Context) -> list[Finding]:
    vae, gan = ctx.phase("vae"), ctx.phase("vae_gan")
    if not (vae and gan):
        return []
    configured = gan.get("configured_start")
    ev: dict[str, Any] = {"last_vae_step": vae["end_step"], "first_vae_gan_step": gan["start_step"],
                          "configured_start": configured, "observed_from": gan.get("source")}
    msg = (f"the discriminator switched on between step {num(vae['end_step'])} and step "
           f"{num(gan['start_step'])} (disc_factor 0 -> 1): VAE phase, then VAE-GAN")
    severity = "info"
    if configured is not None:
        if vae["end_step"] < configured <= gan["start_step"]:
            msg += f", as configured (disc_start {num(configured)})"
        elif gan.get("source") == "disc_factor":
            severity = "warning"
            msg += (f", but the configured disc_start is {num(configured)}: the config in hand "
                    "does not match what the records show")
    total = ctx.name("total")
    if total is not None:
        t, s = ctx.col(total), ctx.step
        before = t[(s <= vae["end_step"])][-10:]
        after = t[(s >= gan["start_step"])][:10]
        if len(before) and len(after):
            ev["total_loss_before"] = float(np.nanmedian(before))
            ev["total_loss_after"] = float(np.nanmedian(after))
            ev["records_before"], ev["records_after"] = len(before), len(after)
            msg += (f"; {total} moved from a median of {num(ev['total_loss_before'])} over the "
                    f"last {len(before)} records before to {num(ev['total_loss_after'])} over the "
                    f"first {len(after)} after")
    return [finding(ID, severity, ctx.name("disc_factor"), msg + ".",
                    steps=[gan["start_step"]], **ev)]


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    if f.severity == "info":
        return None
    return ("Check which config the run really used: the records switch the discriminator on "
            f"at step {f.evidence['first_vae_gan_step']:,}, the config in hand says "
            f"disc_start {f.evidence['configured_start']:,}.")
