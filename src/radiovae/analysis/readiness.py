"""Is this VAE ready for stage 2? A stated criterion, every part checked, "yes" only when all hold.

The parts: the run finished (analysis.state); no critical finding; the reconstruction loss has
levelled off (the one trend estimator: stats.trend's ``levelled_since``, or no trend at all);
held-out reconstruction at least as good as the bars below; and latents that one scale_factor
brings near unit variance in every channel (RadioDiff's stage 2 multiplies all channels by one
scale_factor = 1 / std of all latent values).

The bars: stage 2 cannot reconstruct a map better than the first stage decodes it, so the VAE's
held-out error must be below the error published end-to-end models reach on RadioMapSeer. RMDM
(arXiv 2501.19160) reports RMSE 0.0125 and NMSE 0.0031 on its static maps: a VAE with a larger
error caps stage 2 below that. PSNR 38 dB is RMSE 0.0125 on gray levels in [0, 1]. The SSIM bar
0.95 is radiovae's own (no published end-to-end figure is used for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from radiovae.analysis.schema import Evaluation, Summary
from radiovae.analysis.stats import trend_text
from radiovae.fmt import num


@dataclass(frozen=True)
class Bar:
    metric: str
    limit: float
    higher_is_better: bool
    source: str

    def holds(self, value: float) -> bool:
        return value >= self.limit if self.higher_is_better else value <= self.limit


SOURCE = "RMDM's published RadioMapSeer error (arXiv 2501.19160)"
BARS = (Bar("psnr", 38.0, True, SOURCE + ": RMSE 0.0125 = 38 dB"),
        Bar("nmse", 0.0031, False, SOURCE),
        Bar("ssim", 0.95, True, "radiovae's default"))
# one scale_factor leaves a channel "near unit variance" when its scaled std is within these
SCALED_STD = (2 / 3, 1.5)
SCALED_MEAN = 0.5


def latent_check(ev: Evaluation) -> dict[str, Any] | None:
    """Per channel: mean and std after multiplying by scale_factor; the channels far from unit
    variance. None when the evaluation has no per-channel statistics."""
    lat, scale = ev.latent or {}, ev.scale_factor
    means, stds = lat.get("channel_mean"), lat.get("channel_std")
    if scale is None or not means or not stds:
        return None
    scaled = [{"channel": i, "mean": m, "std": s, "scaled_mean": m * scale,
               "scaled_std": s * scale} for i, (m, s) in enumerate(zip(means, stds, strict=False))]
    far = [c for c in scaled if not SCALED_STD[0] <= c["scaled_std"] <= SCALED_STD[1]
           or abs(c["scaled_mean"]) > SCALED_MEAN]
    return {"scale_factor": scale, "channels": scaled, "far": [c["channel"] for c in far]}


def readiness(s: Summary, rec: str | None) -> dict[str, Any]:
    """``{"answer": yes|no|unclear, "parts": [{"part", "holds": bool|None, "text"}], "how"}``."""
    parts: list[dict[str, Any]] = []

    def part(name: str, holds: bool | None, text: str) -> None:
        parts.append({"part": name, "holds": holds, "text": text})

    st = s.state.state
    word = {"finished": "the run finished", "stopped": "the run stopped before its plan",
            "running": "the run is still running"}.get(st, "whether the run finished cannot be "
                                                         "told")
    evidence = s.state.evidence.rstrip(".")
    part("finished", st == "finished", word + (f": {evidence}" if evidence else ""))
    crit = [f.id for f in s.findings if f.severity == "critical"]
    part("no_critical", not crit, "no critical finding" if not crit else
         "critical finding(s): " + ", ".join(crit))
    m = s.metrics.get(rec or "")
    if m is None:
        part("levelled", None, "no reconstruction loss in the records")
    elif m.trend == "too few records":
        part("levelled", None, f"too few records to tell whether `{rec}` has levelled off")
    else:
        test = m.trend_test
        settled = (test is not None and test.levelled_since is not None) or m.trend == "flat"
        if settled:
            part("levelled", True, f"`{rec}` is {trend_text(m)}")
        else:
            end = test.last_fifth if test is not None else None
            if end is None or end.change_pct is None:
                part("levelled", False, f"`{rec}` was still {m.trend} at the end")
            elif end.p < 0.05:
                part("levelled", False, f"`{rec}` was still {m.trend} at the end: "
                     f"{end.change_pct:+.1f} % over its last {end.records:,} records "
                     f"(Mann-Kendall p = {end.p:.2g})")
            else:     # a drift the test cannot tell from noise: not shown to have levelled off
                part("levelled", None, f"whether `{rec}` has levelled off: over its last "
                     f"{end.records:,} records it moved {end.change_pct:+.1f} %, not "
                     f"significant (Mann-Kendall p = {end.p:.2g})")
    ev = s.evaluation
    how = f"`radiovae eval --checkpoint {s.run_dir or 'RUN'}`"
    if ev is None:
        part("held_out", None, f"no held-out evaluation (run {how})")
    else:
        data = str((ev.data or {}).get("name") or "")
        # the bars were set on RadioMapSeer's maps: elsewhere they are indicative only
        where = "" if data in ("", "radiomapseer") else (
            f"; set on RadioMapSeer, indicative for this {data} data")
        for bar in BARS:
            v = getattr(ev, bar.metric)
            if v is None:
                part(bar.metric, None, f"the evaluation has no {bar.metric.upper()}")
                continue
            op = "≥" if bar.higher_is_better else "≤"
            part(bar.metric, bar.holds(v), f"{bar.metric.upper()} {num(v)} (bar {op} "
                 f"{num(bar.limit)}: {bar.source}{where})")
        lat = latent_check(ev)
        if lat is None:
            part("latent", None, f"the evaluation has no per-channel latent statistics (rerun "
                 f"{how})")
        else:
            chans = "; ".join(f"channel {c['channel']}: mean {num(c['mean'])}, std "
                              f"{num(c['std'])}" for c in lat["channels"])
            part("latent", not lat["far"], f"latents {chans}; scale_factor "
                 f"{num(lat['scale_factor'])}" + (
                     "" if not lat["far"] else " leaves channel(s) " + ", ".join(
                         str(i) for i in lat["far"]) + " far from unit variance (scaled std "
                     f"outside {SCALED_STD[0]:.2f}–{SCALED_STD[1]:g} or |mean| > "
                     f"{SCALED_MEAN:g}): one scale does not fit every channel"))
    failed = [p for p in parts if p["holds"] is False]
    missing = [p for p in parts if p["holds"] is None]
    answer = "no" if failed else ("unclear" if missing else "yes")
    return {"answer": answer, "parts": parts, "how": how, "failed": [p["part"] for p in failed],
            "missing": [p["part"] for p in missing]}
