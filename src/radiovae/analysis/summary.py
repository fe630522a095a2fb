"""``analyze``: a Run -> its :class:`~radiovae.analysis.schema.Summary` (steps, time, metrics,
phases, findings, causes, answers, verdict, marks)."""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from radiovae.analysis import answers as A
from radiovae.analysis.causes import find_causes
from radiovae.analysis.discriminator import DiscriminatorFacts
from radiovae.analysis.findings import SEVERITY, Context, detect_all
from radiovae.analysis.findings.discriminator_untrained import facts as untrained_facts
from radiovae.analysis.lossmodel import loss_facts, stage2_facts
from radiovae.analysis.marks import marks as find_marks
from radiovae.analysis.names import role_of
from radiovae.analysis.phases import around_switch, phase_stats
from radiovae.analysis.phases import phases as find_phases
from radiovae.analysis.schema import Recommendation, Summary, from_json
from radiovae.analysis.smoothing import DEFAULT_WEIGHT, smoothed_last
from radiovae.analysis.state import eta_applies, run_state
from radiovae.analysis.stats import MIN_RECORDS, metric_stats, trend
from radiovae.analysis.validation import validation_summary
from radiovae.runlog.clock import forward_time
from radiovae.runlog.run import Run

_DISC_TERMS = ("disc_loss", "logits_real", "logits_fake")


def analyze(run: Run, total_steps: int | None = None, disc_start: int | None = None, *,
            growing: bool | None = None, now: float | None = None) -> Summary:
    """Everything the report says about ``run`` (``Summary.to_json()`` is summary.json).

    ``total_steps`` / ``disc_start`` (the command line's) are configuration: they override what
    the records and their config say, and every later judgement reads them from ``config``
    (``config_sources`` says where each came from). ``growing``: whether ``watch`` saw the
    records grow (see :func:`radiovae.analysis.state.run_state`); ``now`` is for tests.
    """
    table = run.table
    config = {k: v for k, v in run.config.items() if k != "raw"}
    sources = {k: "records" for k in config}
    for key, value in (("total_steps", total_steps), ("disc_start", disc_start)):
        if value is not None:
            config[key], sources[key] = int(value), "command line"
    planned = config.get("total_steps")
    disc_start = config.get("disc_start")
    step = table["step"].to_numpy()
    first, last = (int(step[0]), int(step[-1])) if len(step) else (None, None)
    progress = (last / planned) if planned and last is not None else None

    phases = find_phases(table, disc_start) if run.kind == "vae" else []
    time = _time(table, run.resumes, planned, last)
    log_gap = _log_gap(step, config)
    state = run_state(run, planned, log_gap, time, now=now, growing=growing)
    if not eta_applies(state):
        time["eta_s"] = None          # only a running run has time left
    run_dir = _run_dir(run)
    ctx = Context(table=table, config=config, phases=phases, progress=progress, state=state,
                  formats={s.format for s in run.segments}, resumes=run.resumes, kind=run.kind,
                  evaluation=run.evaluation, raw_config=run.config.get("raw"),
                  checkpoints=_checkpoints(run_dir),
                  nan_steps=run.nan_steps,
                  decimals=max((sg.decimals for sg in run.segments if sg.decimals is not None),
                               default=None))
    ctx.causes = find_causes(ctx)
    metrics = {}
    for name in run.metrics:
        y = table[name].to_numpy(dtype="float64")
        keep = ~ctx.absent(name)              # a value never written is no NaN
        gan_only = role_of(name) in _DISC_TERMS and ctx.phase("vae_gan") is not None
        if gan_only:   # 0 x disc_factor before disc_start: the discriminator's own terms from then
            keep &= step >= ctx.phase("vae_gan")["start_step"]
        metrics[name] = m = metric_stats(step[keep], y[keep])
        if gan_only:
            m["over"] = "vae_gan"
            # the smoothed latest is where the figure's line ends: its groups span all records
            m["last_smoothed"] = jsonable(smoothed_last(y[~ctx.absent(name)]))
        if len(phases) > 1:   # the phases move for different reasons: judge each on its own
            m["trend_by_phase"] = {}
            for p in phases:
                a = np.searchsorted(step, p["start_step"], side="left")
                b = np.searchsorted(step, p["end_step"], side="right")
                if b > a:
                    m["trend_by_phase"][p["name"]] = trend(step[a:b], y[a:b])[0]

    ctx.stats = metrics
    found = [f.as_dict() for f in detect_all(ctx)]
    roles = ctx.roles
    phase_stats(table, phases, run.metrics)

    for name, m in metrics.items():
        worst = max((SEVERITY[f["severity"]] for f in found if f["metric"] == name), default=None)
        m["status"] = "ok" if worst is None else ["info", "warning", "critical"][worst]
    judged = _judged_records(table, phases)
    verdict, reason = _verdict(found, judged, [c.as_dict() for c in ctx.causes])
    summary = {
        "state": state,
        "judged_records": judged,
        "steps": {"first": first, "last": last, "planned": planned, "progress": progress},
        "records": int(len(table)),
        "time": time,
        "metrics": metrics,
        "phases": phases,
        "segments": [{"source": s.source, "format": s.format, "first_step": s.first_step,
                      "last_step": s.last_step, "first_time": s.first_time, "records": s.records,
                      "skipped_lines": s.skipped_lines} for s in run.segments],
        "resumes": run.resumes,
        "config": config,
        "config_sources": sources,
        "causes": [c.as_dict() for c in ctx.causes],
        "findings": found,
        "verdict": verdict,
        "verdict_reason": reason,
        "skipped_lines": int(run.skipped_lines),
        # what could not be read as written (the first few, named) and how many in all
        "read_notes": list(run.notes),
        "read_note_count": int(run.note_count),
        "end": run.end,
        "evaluation": run.evaluation,
        "kind": run.kind,
        "roles": roles,
        "run_dir": str(run_dir) if run_dir is not None else None,
        "checkpoints": ctx.checkpoints,
        "log_gap": log_gap,
        "smoothing": {"method": "TensorBoard's debiased exponential moving average",
                      "weight": DEFAULT_WEIGHT},
        "loss": loss_facts(table, config, ctx.raw_config, phases, run.resumes, metrics, roles)
        if run.kind == "vae" else stage2_facts(table, config, roles),
        "discriminator": asdict(_discriminator(ctx)),
        "switch": around_switch(table, phases, [roles[r] for r in ("total", "rec", "kl", "g_loss")
                                                if r in roles]),
        "validation": validation_summary(run),   # val/* metrics: never judged as training
    }
    # the facts above, typed (the detectors' numpy values made plain); then the judgements that
    # read them: answers, concerns, confidence, recommendations
    out: Summary = from_json(Summary, jsonable(summary))
    out.marks = find_marks(out.findings, out.phases, out.resumes, out.segments)
    out.answers = A.answers(out)
    out.concerns = A.concerns(out)
    out.confidence = A.confidence(out)
    out.recommendations = _recommendations(out)
    return out


def _recommendations(s: Summary) -> list[Recommendation]:
    """The findings' recommendations, then what the records cannot show."""
    out = [Recommendation(f.recommendation, f.id) for f in s.findings if f.recommendation]
    ready = s.answer("ready_for_stage2")
    failed = set(ready.evidence.get("failed") or []) if ready is not None else set()
    if "levelled" in failed:
        out.append(Recommendation("Train longer before stage 2: the reconstruction loss was still "
                                  "falling at the end (see the readiness answer)."))
    if "latent" in failed:
        out.append(Recommendation(
            "Before stage 2, check the latents per channel: one scale_factor leaves some "
            "channels far from unit variance (see the readiness answer); normalising each "
            "channel by its own mean and std brings every one to unit variance."))
    if failed & {"psnr", "nmse", "ssim"}:
        out.append(Recommendation(
            "The held-out reconstruction misses the readiness bars: stage 2 cannot decode "
            "better than this VAE, so more capacity or training comes first."))
    if s.kind == "vae" and s.evaluation is None:
        run = s.run_dir or "RUN"
        out.append(Recommendation(
            f"Evaluate the final checkpoint (`radiovae eval --checkpoint {run}`) for NMSE / RMSE "
            "/ SSIM / PSNR and the latent scale_factor: the training losses alone do not show "
            "reconstruction quality on held-out maps."))
    return out


def _discriminator(ctx: Context) -> DiscriminatorFacts:
    """The discriminator's own terms over the VAE-GAN records (one rule: the finding's)."""
    gan = ctx.phase("vae_gan")
    if gan is None:
        return DiscriminatorFacts()
    return untrained_facts(ctx, ctx.step >= gan["start_step"])


def _run_dir(run: Run) -> Path | None:
    """The radiovae run dir the records came from, if any: the folder given, or the folder of
    its metrics.jsonl, of a file beside an evaluation.json, or of one beside config.yaml and
    checkpoints/. The one finder: the report reads ``Summary.run_dir``."""
    for seg in run.segments:
        src = Path(str(seg.source))
        if src.is_dir():
            return src
        here = src.parent
        if src.name == "metrics.jsonl" or (here / "evaluation.json").is_file() or (
                (here / "config.yaml").is_file() and (here / "checkpoints").is_dir()):
            return here
    return None


def _checkpoints(run_dir: Path | None) -> list[int] | None:
    """Steps of ``checkpoints/model-<step>.pt`` in the run dir, ascending; None without one."""
    if run_dir is None:
        return None
    steps = []
    for p in (run_dir / "checkpoints").glob("model-*.pt"):
        tail = p.stem.removeprefix("model-")
        if tail.isdigit():
            steps.append(int(tail))
    return sorted(steps)


def _log_gap(step: np.ndarray, config: dict) -> int:
    """Steps between records: the config's log_freq, else the typical step difference."""
    if config.get("log_freq"):
        return int(config["log_freq"])
    st = step[:2001]
    return int(np.median(np.diff(st))) if len(st) > 2 else 1


def _judged_records(table, phases: list[dict]) -> dict[str, Any]:
    """How many records the run has to judge (and each phase), and whether that is too few to
    tell a trend from noise (:data:`MIN_RECORDS`). A young last phase alone does not make the
    run too short: the answers about that phase say so themselves."""
    step = table["step"].to_numpy()
    per_phase = {p["name"]: int(((step >= p["start_step"]) & (step <= p["end_step"])).sum())
                 for p in phases}
    return {"records": int(len(step)), "per_phase": per_phase, "min_records": MIN_RECORDS,
            "too_short": len(step) < MIN_RECORDS}


# findings that hold however few the records: a NaN, a run that stopped, a cause read from the
# config; and any critical finding (a loss up by orders of magnitude is no noise)
CERTAIN = {"non_finite", "stopped"}


def _verdict(found: list[dict], judged: dict[str, Any] | None = None,
             causes: list[dict] | None = None) -> tuple[str, str]:
    """failing / attention / healthy from the findings; ``too_short`` when the judged phase has
    too few records, unless a certain finding (a NaN, a cause from the config) raises it."""
    if judged is not None and judged["too_short"]:
        certain = {c["id"] for c in causes or [] if c["certain"]}
        found = [f for f in found if f["id"] in CERTAIN or f["severity"] == "critical"
                 or (f.get("evidence") or {}).get("cause") in certain]
        head = (f"only {judged['records']} records: too few (under {judged['min_records']}) "
                "to tell a trend from noise")
        if not [f for f in found if f["severity"] in ("critical", "warning")]:
            return "too_short", head
        verdict, reason = _verdict(found)
        return verdict, reason + f"; otherwise {head}"
    crit = [f for f in found if f["severity"] == "critical"]
    warn = [f for f in found if f["severity"] == "warning"]

    def names(fs: list[dict], most: int = 6) -> str:
        shown = "; ".join(f"{f['id']}" + (f" ({f['metric']})" if f["metric"] else "")
                          for f in fs[:most])
        return shown + (f"; and {len(fs) - most:,} more" if len(fs) > most else "")

    if crit:
        return "failing", f"{len(crit)} critical finding(s): {names(crit)}"
    if warn:
        return "attention", f"no critical findings; {len(warn)} warning(s): {names(warn)}"
    return "healthy", "no warnings or critical findings in the records"


def _time(table, resumes: list[dict], planned: int | None, last: int | None) -> dict[str, Any]:
    t = table["time"].to_numpy(dtype="float64") if "time" in table.columns else np.array([])
    step = table["step"].to_numpy()
    ok = np.isfinite(t)
    out: dict[str, Any] = {"start": None, "end": None, "start_unix": None, "end_unix": None,
                           "elapsed_s": None, "active_s": None, "steps_per_s": None,
                           "recent_steps_per_s": None, "eta_s": None, "gaps": []}
    if ok.sum() < 2:
        return out
    t, s = t[ok], step[ok]
    out["start_unix"], out["end_unix"] = float(t.min()), float(t.max())
    out["start"], out["end"] = _iso(t.min()), _iso(t.max())
    # a clock set back (merged machines, a time-zone change) is no negative wall time: forward
    # intervals only (runlog.clock, whose note the run's notes carry)
    out["elapsed_s"] = forward_time(table).elapsed_s
    dt, ds = np.diff(t), np.diff(s)
    good = (dt > 0) & (ds > 0)
    if not good.any():
        return out
    rate = ds[good] / dt[good]
    pace = dt[good] / ds[good]
    med = np.median(pace[::max(1, len(pace) // 65_536)])   # seconds per step (a typical pace)
    # a resume, or a pause far beyond the usual pace, is not training time
    resumed_at = {r["step"] for r in resumes}
    pause = (dt > 10 * med * np.maximum(ds, 1)) & (dt > 60)
    pause |= np.isin(s[1:], list(resumed_at))
    keep = good & ~pause
    out["gaps"] = [{"after_step": int(s[i]), "before_step": int(s[i + 1]), "gap_s": float(dt[i])}
                   for i in np.flatnonzero(pause & (dt > 0))]
    if keep.any():
        out["active_s"] = float(dt[keep].sum())
        out["steps_per_s"] = float(ds[keep].sum() / dt[keep].sum())
        recent = np.flatnonzero(keep)[-50:]
        out["recent_steps_per_s"] = float(ds[recent].sum() / dt[recent].sum())
    else:
        out["steps_per_s"] = float(np.median(rate))
        out["recent_steps_per_s"] = out["steps_per_s"]
    if planned and last is not None:
        left = max(planned - last, 0)
        out["eta_s"] = float(left / out["recent_steps_per_s"]) if out["recent_steps_per_s"] else None
    return out


def _iso(unix: float) -> str:
    return datetime.fromtimestamp(float(unix), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def jsonable(obj: Any) -> Any:
    """numpy -> Python, non-finite floats -> None, tuples -> lists (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    return obj
