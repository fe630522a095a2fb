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
    raw = ctx.raw_config if isinstance(ctx.raw_config, dict) else {}
    trainer = raw.get("trainer") if isinstance(raw.get("trainer"), dict) else {}
    every, last = trainer.get("save_and_sample_every"), f.evidence.get("last_step")
    where = ""
    if isinstance(every, int) and every > 0 and last is not None:
        # RadioDiff saves once the step counter reaches a multiple, after the step it logged
        # last: the newest save can be one interval past the last record, not more
        gap = int(ctx.config.get("log_freq") or 1)
        newest = (last + gap) // every * every
        where = f" (saved every {every:,} steps: the newest is from step {newest:,} at most)"
    if trainer.get("enable_resume") is False:
        return (f"With enable_resume false a save holds the model weights only{where}: it cannot "
                "be resumed. Load it as finetune.ckpt_path to train on; the optimizer, the "
                "schedule's position and the EMA weights start again. Or evaluate what was "
                "trained: it is not the planned model.")
    return (f"Resume from the newest checkpoint{where} to finish the plan, or evaluate what "
            "was trained: it is not the planned model.")
