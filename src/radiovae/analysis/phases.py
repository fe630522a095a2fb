"""Training phases: the VAE phase, then VAE-GAN once disc_factor switches on (RadioDiff's
``disc_start``), read from disc_factor when it is logged, else from the configured disc_start."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radiovae.analysis.names import find


def phases(table: pd.DataFrame, disc_start: int | None) -> list[dict]:
    """``[{name: vae | vae_gan, start_step, end_step, configured_start, source}, ...]``."""
    step = table["step"].to_numpy()
    if not len(step):
        return []
    first, last = int(step[0]), int(step[-1])
    name = find(table.columns, "disc_factor")
    if name is not None:
        f = table[name].to_numpy(dtype="float64")
        on = np.isfinite(f) & (f > 0)
        off = np.isfinite(f) & (f == 0)
        if on.any() and off.any():
            i = int(np.argmax(on))           # first GAN row
            if off[:i].any():
                j = int(np.flatnonzero(off[:i])[-1])
                return [
                    {"name": "vae", "start_step": first, "end_step": int(step[j]),
                     "configured_start": disc_start, "source": "disc_factor"},
                    {"name": "vae_gan", "start_step": int(step[i]), "end_step": last,
                     "configured_start": disc_start, "source": "disc_factor"},
                ]
        if on.any() and not off.any():
            return [{"name": "vae_gan", "start_step": first, "end_step": last,
                     "configured_start": disc_start, "source": "disc_factor"}]
        if off.any() and not on.any():
            return [{"name": "vae", "start_step": first, "end_step": last,
                     "configured_start": disc_start, "source": "disc_factor"}]
    if disc_start is not None:
        out = []
        if first < disc_start:
            end = int(step[step < disc_start][-1])
            out.append({"name": "vae", "start_step": first, "end_step": end,
                        "configured_start": disc_start, "source": "config"})
        if last >= disc_start:
            start = int(step[step >= disc_start][0])
            out.append({"name": "vae_gan", "start_step": start, "end_step": last,
                        "configured_start": disc_start, "source": "config"})
        return out
    return [{"name": "vae", "start_step": first, "end_step": last, "configured_start": None,
             "source": "unknown"}]
