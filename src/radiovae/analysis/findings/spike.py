"""``spike``: single-row outliers of the reconstruction-side losses, and of the total where its
terms do not account for them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.analysis.lossmodel import recompute_total
from radiovae.analysis.names import watched
from radiovae.analysis.stats import OUTLIER_BLOCK, outliers
from radiovae.fmt import num

ID = "spike"
ON_CURVE = True   # the figures mark its steps on the metric's curve


OPENING_RECORDS = OUTLIER_BLOCK   # a block of outliers (two of a short phase's)


def _opening_transient_end(step: np.ndarray, config: dict) -> int | None:
    """First step after the opening transient of a run recorded from its start: the first
    records of a fresh model sit far above (or, for the KL of a fresh encoder, far below) what
    follows by nature, which is no spike. At least the first OPENING_RECORDS: spikes are judged
    against their block's median (analysis.stats.outliers: blocks of 25 records, a tenth of a
    shorter phase), and the first blocks of a short run hold a loss still moving by orders of
    magnitude (the demo's KL: 249 at step 0, 13,142 at step 120 against its 13-record block's
    median 6,555, 18,845 at step 250), no baseline for a spike."""
    if not len(step):
        return None
    planned = config.get("total_steps") or int(step[-1]) or 1
    if step[0] > 0.01 * planned:
        return None                     # a resumed run: its first records are no transient
    return int(step[min(len(step) - 1, max(OPENING_RECORDS, len(step) // 50))])


def _spike_rows(step: np.ndarray, y: np.ndarray, phases: list[dict], z_limit: float,
                signed: bool, skip_before: int | None = None) -> tuple[list[dict], str] | None:
    """Outliers of one metric, judged within each phase (the switch to VAE-GAN moves every loss
    by design, and a block straddling it is not noise).

    All-positive series are judged upward on log10 (a spike is a ratio; 2x its level at least).
    Series that cross zero (the total, once d_weight*g_loss is negative) are judged both ways on
    asinh(y / median|y|): linear near zero, logarithmic in magnitude far from it, so a jump from
    -1.3k to -65k is as visible as one from 1.3k to 65k.
    """
    fin = np.isfinite(y)
    if fin.all():
        v, s = y, step
    elif fin.sum() < 20:
        return None
    else:
        v, s = y[fin], step[fin]
    if len(v) < 20:
        return None
    positive = bool(v.min() > 0)
    if positive:
        to, back, floor, name = np.log10, lambda m: 10 ** m, math.log10(2.0), "log10"
    elif signed:
        # the typical magnitude sets where asinh turns from linear to logarithmic: a median
        # over <= 20k evenly spaced rows is as good as one over all of them
        some = np.abs(v[:: max(1, len(v) // 20_000)])
        size = float(np.median(some)) or float(some.max()) or 1.0
        to, back, floor, name = (lambda x: np.arcsinh(x / size), lambda m: size * np.sinh(m),
                                 math.log(2.0), "asinh")
    else:
        to, back, floor, name = np.asarray, float, 0.5 * float(np.median(np.abs(v))), "linear"
    cuts = sorted({int(np.searchsorted(s, p["start_step"])) for p in phases} | {0, len(s)})
    items = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=False):
        if b - a < 20:
            continue
        rows, med, z = outliers(v[a:b], z_limit, floor, two_sided=signed and not positive,
                                scale=to)
        items += [{"step": int(s[a + i]), "value": float(v[a + i]),
                   "local_median": float(back(m)), "z": float(zi)}
                  for i, m, zi in zip(rows, med, z, strict=True)
                  if skip_before is None or s[a + i] >= skip_before]
    items.sort(key=lambda e: -abs(e["z"]))
    return items, name


def detect(ctx: Context, z_limit: float = 10.0) -> list[Finding]:
    """Outliers of the reconstruction-side losses, and of the total loss where they matter.

    The total is a weighted sum with an adversarial term that moves by design, so a spike in it
    is reported only when a reconstruction-side loss spikes at the same step (mirrored), or when
    nll + kl_weight*kl + d_weight*disc_factor*g_loss does not reproduce it (no logged term
    explains it: a term missing from the logs, or a logging fault); a spike that the
    adversarial term accounts for is the GAN at work.
    """
    table, phases, config = ctx.table, ctx.phases, ctx.config
    out = []
    step = ctx.step
    spiked: dict[str, set[int]] = {}
    skip = _opening_transient_end(step, config)
    for name in watched(table.columns):
        found = _spike_rows(step, table[name].to_numpy(dtype="float64"), phases, z_limit, False,
                            skip)
        if not found or not found[0]:
            continue
        items, scale = found
        spiked[name] = {e["step"] for e in items}
        top = items[0]
        out.append(finding(
            ID, "warning", name,
            f"{name} spikes {len(items)} time(s); the largest at step {num(top['step'])}: "
            f"{num(top['value'])} against a local median of {num(top['local_median'])} "
            + (f"({top['value'] / top['local_median']:.1f}x, " if top["local_median"] else "(")
            + f"{top['z']:.0f} robust deviations). "
            "Single-batch spikes are usually a hard batch; repeated ones point at the learning rate "
            "or AMP.", steps=[e["step"] for e in items], count=len(items), spikes=items[:10],
            log_scale=scale == "log10"))
    total = ctx.name("total")
    if total is not None:
        out += _total_spikes(table, total, step, phases, config, spiked, z_limit, skip)
    return out


def _total_spikes(table: pd.DataFrame, name: str, step: np.ndarray, phases: list[dict],
                  config: dict, spiked: dict[str, set[int]], z_limit: float,
                  skip_before: int | None = None) -> list[Finding]:
    found = _spike_rows(step, table[name].to_numpy(dtype="float64"), phases, z_limit, True,
                        skip_before)
    if not found or not found[0]:
        return []
    items, scale = found
    at = np.searchsorted(step, [e["step"] for e in items])
    loss = recompute_total(table, config, rows=at)
    kept = []
    for j, e in enumerate(items):
        e["mirrored_in"] = sorted(m for m, steps in spiked.items() if e["step"] in steps)
        if loss is not None:
            e["recomputed_total"] = float(loss["model"][j])
            e["residual"] = float(e["value"] - loss["model"][j])
            e["explained_by_terms"] = bool(abs(e["residual"]) <= loss["tol"][j])
        if e["mirrored_in"] or not e.get("explained_by_terms", False):
            kept.append(e)
    if not kept:
        return []
    top = kept[0]
    if top["mirrored_in"]:
        why = (f"the same step spikes in {', '.join(top['mirrored_in'])}: the total carries the "
               "reconstruction-side spike (see that finding)")
    elif "residual" in top:
        why = (f"its terms do not explain it: nll + kl_weight*kl + d_weight*disc_factor*g_loss "
               f"gives {num(top['recomputed_total'])} at that step, so some term of the total is "
               "missing from the records or the logged total is wrong")
    else:
        why = "the records lack the terms (nll, d_weight, g_loss) that could explain it"
    ratio = (f"{top['value'] / top['local_median']:.1f}x, " if top["local_median"] else "")
    return [finding(
        ID, "warning", name,
        f"{name} spikes {len(kept)} time(s); the largest at step {num(top['step'])}: "
        f"{num(top['value'])} against a local median of {num(top['local_median'])} "
        f"({ratio}{abs(top['z']):.0f} robust deviations on an {scale} scale); {why}.",
        steps=[e["step"] for e in kept], count=len(kept), spikes=kept[:10], log_scale=False,
        scale=scale,
        candidates=len(items))]


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    spikes = f.evidence.get("spikes") or []
    where = _where(f.steps)
    if spikes and all(e.get("explained_by_terms") is False and not e.get("mirrored_in")
                      for e in spikes):
        return (f"Check how `{f.metric}` is computed and logged {where}: its logged "
                "terms do not add up to it there, so a term is missing from the records or "
                "the value is wrong.")
    return (f"Inspect the batches behind `{f.metric}` {where}; if spikes recur, add "
            "gradient clipping or lower the learning rate.")


def _where(steps: list[int], limit: int = 6) -> str:
    shown = ", ".join(f"{s:,}" for s in steps[:limit])
    more = f" … ({len(steps)} steps)" if len(steps) > limit else ""
    return f"at step{'s' if len(steps) > 1 else ''} {shown}{more}"
