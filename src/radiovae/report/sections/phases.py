"""Phase analysis: VAE vs VAE-GAN, and the records around the switch."""

from __future__ import annotations

import numpy as np

from radiovae.fmt import duration, num, pct
from radiovae.report.document import Paragraph, Section, Table, code
from radiovae.report.facts import (
    Facts,
    log_gap,
)


def phase_analysis(f: Facts, figures: dict[str, str]) -> list[Section]:
    sec = Section("Phase analysis", "phases")
    if not f.phases:
        sec.add(Paragraph("No phases could be told apart in these records."))
        return [sec]
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
            text += (", consistent with the logging interval" if 0 <= gap <= log_gap(f)
                     else f", {gap:+,} steps off: check the config against the log")
        sec.add(Paragraph(text + "."))
        sec.add(*_before_after(f, sw))
    else:
        sec.add(Paragraph("Only the VAE phase is in these records: the discriminator never started"
                          + (f" (disc_start {conf:,})" if conf else "") + "."))
    return [sec]


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
