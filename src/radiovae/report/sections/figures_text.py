"""The comparison figures and what they show."""

from __future__ import annotations

from radiovae.fmt import num
from radiovae.report.document import Figure, Paragraph, Section, code
from radiovae.report.facts import (
    Facts,
    change_text,
)


def _figure_section(key: str, title: str, figures: dict[str, str], caption: str,
                    text: list[str]) -> Section:
    sec = Section(title, key.replace("_", "-"))
    if key in figures:
        sec.add(Figure(figures[key], caption))
    sec.add(*[Paragraph(p) for p in text])
    return sec


def _trend_groups(f: Facts) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for role in ("total", "kl", "rec", "nll", "disc_loss", "g_loss", "loss_simple", "loss_vlb"):
        m = f.m(role)
        if m:
            groups.setdefault(m.trend or "unknown", []).append(
                f"{code(f.name(role))} ({change_text(m)})")
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
    for role in ("total", "kl", "rec", "disc_loss", "g_loss", "loss_simple", "loss_vlb"):
        m = f.m(role)
        if m and m.min is not None and m.max is not None:
            parts.append(f"{code(f.name(role))} {num(m.min)} … {num(m.max)}")
            big = max(abs(m.min), abs(m.max))
            if big > 0:
                mags.append(big)
    if not parts:
        return []
    text = "Ranges: " + "; ".join(parts) + "."
    if len(mags) >= 2 and min(mags) > 0:
        text += (f" The largest is {max(mags) / min(mags):.2g} × the smallest — which is why they "
                 "need separate axes"
                 + ("; what each contributes to the total is set by its weight (kl_weight, "
                    "d_weight), not by its size." if f.kind == "vae" else "."))
    return [text]


def overview(f: Facts, figures: dict[str, str]) -> list[Section]:
    caption = ("The losses side by side (raw and smoothed, same marks as above)." if f.kind == "vae"
               else "The run's own metrics side by side (raw and smoothed, or steps for a "
                    "step-like series; same marks as above).")
    return [_figure_section("overview", "Training overview", figures, caption, _overview_text(f))]


def normalized(f: Facts, figures: dict[str, str]) -> list[Section]:
    if f.kind != "vae":     # a VAE's comparison of its many losses; a stage-2 run has two
        return []
    return [_figure_section(
        "normalized", "Normalized comparison", figures,
        "Each loss scaled to [0, 1] over its own 0.5–99.5 % range: compare shapes and timing, "
        "not sizes.", _normalized_text(f))]


def multi_axis(f: Facts, figures: dict[str, str]) -> list[Section]:
    if f.kind != "vae":
        return []
    return [_figure_section(
        "multi_axis", "Multi-axis analysis", figures,
        "The smoothed curve of each loss on its own y-axis (right-hand axes offset), so that curves "
        "of very different magnitude can be read together.", _multi_axis_text(f))]


def dashboard(f: Facts, figures: dict[str, str]) -> list[Section]:
    what = ("Losses, learning rate, d_weight, phases and every finding on one page."
            if f.kind == "vae" else "Losses, learning rate and every finding on one page.")
    what += (" A series with a few values held for many records (an lr printed at 5 decimals) "
             "is drawn as steps, not smoothed.")
    return [_figure_section("dashboard", "Complete dashboard", figures, what, [])]
