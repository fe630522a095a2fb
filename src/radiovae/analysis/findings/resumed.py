"""``resumed``: training restarted from a checkpoint (several files, or steps going back)."""

from __future__ import annotations

from radiovae.analysis.findings.base import Context, Finding, finding
from radiovae.fmt import duration, num, when

ID = "resumed"


def detect(ctx: Context) -> list[Finding]:
    out = []
    for r in ctx.resumes:
        gap = r.get("gap_s")
        gap_txt = f", after a {duration(gap)} pause" if gap is not None and gap > 0 else ""
        lost = r.get("overlap_steps") or 0
        msg = (f"training resumed at step {num(r['step'])} (the run before had reached step "
               f"{num(r['previous_last_step'])}{gap_txt})")
        if lost:
            msg += (f"; {lost} logged step(s) of the earlier run at or past step {num(r['step'])} "
                    "were replaced by the resumed run's records (that state was lost)")
        ev = {k: v for k, v in r.items() if k != "time"}
        if r.get("time") is not None:
            ev["resumed_at"] = when(r["time"])          # a date, never a raw Unix number
        out.append(finding(ID, "info", None, msg + ".", steps=[r["step"]], **ev))
    return out


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    first = int(ctx.step[0]) if len(ctx.step) else None
    if first:
        return (f"Add the log(s) of steps before {first:,} to this report (several files "
                "are read as one run) to see the whole run.")
    return None
