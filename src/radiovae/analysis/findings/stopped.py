"""``stopped``: the run ended before its plan (analysis.state decides that; this says it).

A run that died (no end marker, nothing written for a long while) is worth attention whatever
its curves did: the last checkpoint is not the planned model. One the trainer ended on purpose
(``--max-steps``) is noted; one it ended because the losses went non-finite is the
``non_finite`` finding's to judge.
"""

from __future__ import annotations

from radiovae.analysis.findings.base import Context, Finding, finding

ID = "stopped"


def detect(ctx: Context) -> list[Finding]:
    st = ctx.state
    if st.get("state") != "stopped" or st.get("last_step") is None:
        return []
    severity = "info" if st.get("basis") == "end_marker" else "warning"
    msg = "The run stopped before its plan: " + st["evidence"]
    return [finding(ID, severity, None, msg, steps=[st["last_step"]],
                    last_step=st["last_step"], planned=st.get("planned"), basis=st.get("basis"))]


def recommend(f: Finding, ctx: Context, found: list[Finding]) -> str | None:
    if f.severity == "info":
        return None
    every = (ctx.raw_config or {}).get("trainer", {}) if isinstance(ctx.raw_config, dict) else {}
    every = every.get("save_and_sample_every") if isinstance(every, dict) else None
    where = ""
    if isinstance(every, int) and every > 0 and f.evidence.get("last_step") is not None:
        saved = f.evidence["last_step"] // every * every
        where = (f" (saving every {every:,} steps, the newest checkpoint is from step "
                 f"{saved:,} at best)")
    return (f"Resume from the last checkpoint{where} to finish the plan, or evaluate what was "
            "trained: the last checkpoint is not the planned model.")
