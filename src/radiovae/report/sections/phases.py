"""Phase analysis: VAE vs VAE-GAN, and the records around the switch."""

from __future__ import annotations

from radiovae.fmt import duration, num, pct
from radiovae.report.document import Paragraph, Section, Table, code
from radiovae.report.facts import Facts


def phase_analysis(f: Facts, figures: dict[str, str]) -> list[Section]:
    if f.kind != "vae":
        return []
    sec = Section("Phase analysis", "phases")
    if not f.phases:
        sec.add(Paragraph("No phases could be told apart in these records."))
        return [sec]
    roles = [r for r in ("total", "nll", "kl", "rec", "g_loss", "d_weight") if f.has(r)]
    header = ["Phase", "Steps", "Records", "Duration"] + [
        f"mean {code(str(f.name(r)).removeprefix('train/'))}" for r in roles]
    rows = []
    for p in f.phases:
        dur = f"{(p.end_step - p.start_step):,} steps"
        if p.duration_s:
            dur += f", {duration(p.duration_s)}"
        label = {"vae": "VAE", "vae_gan": "VAE-GAN"}.get(p.name, p.name)
        rows.append([label, f"{p.start_step:,}–{p.end_step:,}", f"{p.records:,}", dur]
                    + [num(f.phase_mean(p.name, r)) for r in roles])
    sec.add(Table(header, rows, [False, False, True, False] + [True] * len(roles)))
    sw, conf = f.switch, f.configured_switch
    if sw is not None:
        text = f"The discriminator is on from step {sw:,} (first record with disc_factor > 0)"
        if conf is not None:
            text += f"; the config says disc_start = {conf:,}"
            gap = sw - conf
            text += (", consistent with the logging interval" if 0 <= gap <= f.log_gap
                     else f", {gap:+,} steps off: check the config against the log")
        sec.add(Paragraph(text + "."))
        sec.add(*_before_after(f))
    elif conf is not None and conf > (f.steps.last or 0):
        sec.add(Paragraph(f"Only the VAE phase is in these records: the discriminator starts at "
                          f"disc_start {conf:,}, after the last record (step "
                          f"{f.steps.last or 0:,}), as configured."))
    else:
        sec.add(Paragraph("Only the VAE phase is in these records: disc_factor is 0 in every one"
                          + (f" (disc_start {conf:,})" if conf else "") + "."))
    return [sec]


def _before_after(f: Facts) -> list:
    sw = f.s.switch
    if sw is None or not sw.means or not sw.before_records or not sw.after_records:
        return []
    rows = [[code(name), num(v.before), num(v.after),
             pct(v.change_pct) if v.change_pct is not None else
             ("—" if v.before is None or v.after is None else
              ("+" if v.after > v.before else "") + num(v.after - v.before) + " (abs.)")]
            for name, v in sw.means.items()]
    return [Paragraph(f"Around the switch (last {sw.before_records} records before vs. first "
                      f"{sw.after_records} after):"),
            Table(["Metric", "Before", "After", "Change"], rows, [False, True, True, True])]
