"""The labelled diagnosis suite: every case with its truth.

(a) ``trained/*``: tiny real radiovae runs with real faults (diagnosis_corpus.py);
(b) ``formats/*``: the shared real RadioDiff run in every format radiovae reads;
(c) ``synthetic/*``: small edge cases per finding kind, and per kind of run.

Every case must be diagnosed right: a case the analysis gets wrong fails its test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from diagnosis_corpus import build_trained_cases
from diagnosis_truth import Case, Expect
from logfactory import (
    LDM_CONFIG,
    ldm_frame,
    ldm_steps_frame,
    read_real_run,
    write_console_capture,
    write_ldm_log,
    write_log,
)
from runformats import FORMATS, write_formats, write_jsonl

# the shared real run: what ../shared/data/README.md says a correct analysis finds in it
_REAL_SPAN = (35000, 149900)
_REAL_GAN = (50100, 149900)


def _real_truth(fmt: str) -> tuple[list[Expect], list[str]]:
    expect = [
        # d_weight pinned at 1e4 x disc_weight: RadioDiff's design on 256x256 maps (info)
        Expect("weight_saturated", "train/d_weight", _REAL_SPAN, "info"),
        Expect("discriminator_untrained", "train/g_loss", _REAL_GAN, "warning"),
        # logvar at 0: RadioDiff leaves it out of the optimizer by design (cause logvar_by_design)
        Expect("frozen_metric", "train/logvar", _REAL_SPAN, "info"),
        Expect("phase_change", "train/disc_factor", (50000, 50100), "info"),
        Expect("negative_total_loss", "train/total_loss", _REAL_GAN, "info"),
    ]
    if fmt in ("csv", "radiodiff_log", "console"):
        # printed with {:.5f}: the lr (5e-6 decaying) reads 0.00000 in every row
        expect.append(Expect("lr_zero", "lr", _REAL_SPAN, "info"))
        return expect, []
    return expect, ["lr_zero"]          # full precision: the lr is not 0 anywhere


def build_format_cases(real_run_csv: Path, root: Path) -> list[Case]:
    paths = write_formats(read_real_run(real_run_csv), Path(root) / "formats",
                          formats=(*FORMATS, "tensorboard_radiodiff"))
    cases = []
    for fmt in FORMATS:
        expect, forbidden = _real_truth(fmt)
        cases.append(Case(f"formats/{fmt}", [paths[fmt]], "attention", expect, group="formats",
                          forbidden=forbidden, kind="vae"))
    # RadioDiff's own events: no logvar (so nothing to say about it), the lr at full precision
    expect = [e for e in _real_truth("tensorboard")[0] if e.metric != "train/logvar"]
    cases.append(Case("formats/tensorboard_radiodiff", [paths["tensorboard_radiodiff"]],
                      "attention", expect, group="formats", forbidden=["lr_zero"], kind="vae"))
    return cases


# -- synthetic edge cases ---------------------------------------------------------------------------

def _vae_frame(n: int = 200, every: int = 100, seed: int = 0,
               logvar_to: float = -0.01) -> pd.DataFrame:
    """A plain-VAE run (no discriminator yet) that trains normally: falling rec / nll, rising KL,
    a logvar learning slowly (to -0.01: the NLL stays positive), a decaying lr at full
    precision. ``logvar_to`` -0.5 makes the NLL (and the total) negative, as radiovae's own runs
    with a learned logvar do."""
    rng = np.random.default_rng(seed)
    s = np.arange(n) * every
    rec = (0.02 + 0.3 * np.exp(-s / (n * every / 4))) * np.exp(0.05 * rng.standard_normal(n))
    kl = 2000 + 8000 * (1 - np.exp(-s / (n * every / 3))) + 50 * rng.standard_normal(n)
    logvar = logvar_to * (1 - np.exp(-s / (n * every / 5)))
    nll = rec * 65536 / np.exp(logvar) + logvar * 65536
    return pd.DataFrame({"step": s, "time": 1.75e9 + 18.0 * s / 100,
                         "train/total_loss": nll + 1e-6 * kl, "train/logvar": logvar,
                         "train/kl_loss": kl, "train/nll_loss": nll, "train/rec_loss": rec,
                         "lr": 4.5e-5 * (1 - s / (2 * n * every)) ** 0.95})


_CONFIG = {"model": {"lossconfig": {"disc_start": 50001, "kl_weight": 1e-6, "disc_weight": 0.5}},
           "trainer": {"lr": 4.5e-5, "min_lr": 5e-7, "train_num_steps": 40000, "log_freq": 100}}


def _jsonl(root: Path, name: str, df: pd.DataFrame) -> Path:
    return write_jsonl(df, Path(root) / "synthetic" / f"{name}.jsonl")


def build_synthetic_cases(root: Path) -> list[Case]:
    root = Path(root)
    cases = []
    base = _vae_frame()
    end = int(base["step"].iloc[-1])

    cases.append(Case("synthetic/healthy_vae", [_jsonl(root, "healthy", base)], "healthy", [],
                      forbidden=["resumed", "non_finite", "divergence", "spike"], kind="vae"))

    df = base.copy()
    row = df.index[df["step"] == 9000][0]
    for c in ("train/total_loss", "train/nll_loss", "train/rec_loss"):
        df.loc[row, c] = np.nan
    cases.append(Case("synthetic/nan_isolated", [_jsonl(root, "nan_isolated", df)], "attention",
                      [Expect("non_finite", c, (9000, 9000), "warning")
                       for c in ("train/total_loss", "train/nll_loss", "train/rec_loss")]))

    df = base.copy()
    df.loc[df["step"] >= 15000, ["train/total_loss", "train/nll_loss", "train/rec_loss"]] = np.nan
    cases.append(Case("synthetic/nan_persisting", [_jsonl(root, "nan_persisting", df)], "failing",
                      [Expect("non_finite", c, (15000, end), "critical")
                       for c in ("train/total_loss", "train/nll_loss", "train/rec_loss")]))

    df = base.copy()
    late = df["step"] >= 12000
    grow = np.geomspace(1, 30, int(late.sum()))
    for c in ("train/rec_loss",):
        df.loc[late, c] *= grow
    df["train/nll_loss"] = df["train/rec_loss"] * 65536 / np.exp(df["train/logvar"]) + \
        df["train/logvar"] * 65536
    df["train/total_loss"] = df["train/nll_loss"] + 1e-6 * df["train/kl_loss"]
    cases.append(Case("synthetic/divergence", [_jsonl(root, "divergence", df)], "failing",
                      [Expect("divergence", "train/rec_loss", (12000, end), "critical")],
                      allowed=[Expect("divergence", m, (12000, end), "critical")
                               for m in ("train/nll_loss", "train/total_loss")],
                      forbidden=["plateau"],
                      note="a loss rising 30x has not plateaued"))

    df = base.copy()
    row = df.index[df["step"] == 11000][0]
    for c, f in (("train/rec_loss", 50.0),):
        df.loc[row, c] *= f
    df.loc[row, "train/nll_loss"] = df.loc[row, "train/rec_loss"] * 65536 / np.exp(
        df.loc[row, "train/logvar"]) + df.loc[row, "train/logvar"] * 65536
    df.loc[row, "train/total_loss"] = df.loc[row, "train/nll_loss"] + 1e-6 * df.loc[
        row, "train/kl_loss"]
    cases.append(Case("synthetic/spike", [_jsonl(root, "spike", df)], "attention",
                      [Expect("spike", "train/rec_loss", (11000, 11000), "warning")],
                      allowed=[Expect("spike", c, (11000, 11000), "warning")
                               for c in ("train/nll_loss", "train/total_loss")],
                      note="nll and total carry the same spike: reporting them too is true"))

    neg = _vae_frame(logvar_to=-0.5)
    cases.append(Case("synthetic/negative_nll_learned_logvar", [_jsonl(root, "negative_nll", neg)],
                      "healthy", [Expect("negative_total_loss", "train/total_loss",
                                         (2700, end), "info")], kind="vae",
                      note="rec / exp(logvar) + logvar < 0 once logvar < -rec: arithmetic"))

    df = base.copy()
    df["lr"] = 0.0                       # full precision: really 0, yet the losses fall
    cases.append(Case("synthetic/lr_zero_full_precision", [_jsonl(root, "lr_zero", df)],
                      "attention", [Expect("lr_zero", "lr", (0, end), "warning")]))

    df = base.copy()
    df["train/logvar"] = 0.0
    df["train/nll_loss"] = df["train/rec_loss"] * 65536
    df["train/total_loss"] = df["train/nll_loss"] + 1e-6 * df["train/kl_loss"]
    # no config says the run meant to learn logvar: constant logvar is RadioDiff's design (info)
    cases.append(Case("synthetic/logvar_frozen", [_jsonl(root, "logvar_frozen", df)],
                      "healthy", [Expect("frozen_metric", "train/logvar", (0, end), "info")]))

    # a RadioDiff console capture of a healthy run: absent is not NaN, bars are not records
    log = write_console_capture(root / "synthetic" / "console_healthy.txt",
                                base.assign(**{"lr": 4.5e-5}), total=40000, config=_CONFIG,
                                bars_per_record=5, debug_every=3)
    cases.append(Case("synthetic/console_healthy", [log], "healthy", [],
                      forbidden=["non_finite", "resumed"], kind="vae"))

    # RadioDiff (gradient_accumulate_every 2) in its VAE phase: a discriminator line per step
    # (disc_loss 0 x disc_factor, the untrained D's logits); the run stopped between the two
    # lines of its last step, so that step's discriminator terms are absent, not NaN
    rng = np.random.default_rng(5)
    two = base.assign(**{"train/d_weight": 0.0, "train/disc_factor": 0.0, "train/g_loss": 0.0,
                         "train/disc_loss": 0.0,
                         "train/logits_real": 0.02 * rng.standard_normal(len(base)),
                         "train/logits_fake": -0.03 + 0.02 * rng.standard_normal(len(base))})
    planned = {**_CONFIG, "trainer": {**_CONFIG["trainer"], "train_num_steps": end + 1}}
    cut = write_log(root / "synthetic" / "cut_disc_line.log", two, config=planned, noise_every=0,
                    total=end + 1)           # its last record is the plan's last: finished
    text = cut.read_text(encoding="utf-8").splitlines(keepends=True)
    cut.write_text("".join(text[:-1]), encoding="utf-8")
    cases.append(Case("synthetic/last_disc_line_absent", [cut], "healthy", [],
                      forbidden=["non_finite"], kind="vae"))

    # stage 2 (train_cond_ldm.py): reported in its own terms, never in VAE language
    vae_words = ["weight_saturated", "discriminator_untrained", "phase_change",
                 "negative_total_loss"]
    every = ldm_steps_frame(steps=20001)
    ldm = ldm_frame(every)
    short = {**LDM_CONFIG, "trainer": {**LDM_CONFIG["trainer"], "train_num_steps": 20001}}
    cases.append(Case("synthetic/ldm_healthy",   # a plan of 20,001 steps: finished
                      [write_ldm_log(root / "synthetic" / "ldm_healthy.log", ldm, total=20001,
                                     config=short)],
                      "healthy", [],
                      forbidden=vae_words, kind="ldm",
                      note="loss_vlb is 0 in every row: RadioDiff's const-SDE model returns 0"))
    bad = ldm.copy()
    late = bad["step"] >= 10000
    grow = np.geomspace(1, 40, int(late.sum()))
    bad.loc[late, "loss_simple"] *= grow
    bad.loc[late, "total_loss"] *= grow
    cases.append(Case("synthetic/ldm_divergence",
                      [write_ldm_log(root / "synthetic" / "ldm_divergence.log", bad, total=20001,
                                     config=short)],
                      "failing",
                      [Expect("divergence", "loss_simple", (10000, 20000), "critical")],
                      allowed=[Expect("divergence", "total_loss", (10000, 20000), "critical")],
                      forbidden=vae_words + ["plateau"], kind="ldm"))
    # the same stage-2 run stopped at 29,900 of 50,000, months ago, with no end marker: stopped
    # (a warning), and its loss_simple, flat for its second half, has levelled off (info)
    stopped = ldm_frame(ldm_steps_frame(steps=29901))
    cases.append(Case("synthetic/ldm_stopped",
                      [write_ldm_log(root / "synthetic" / "ldm_stopped.log", stopped)],
                      "attention", [Expect("stopped", None, (29900, 29900), "warning"),
                                    Expect("plateau", "loss_simple", (15000, 29900), "info")],
                      forbidden=vae_words, kind="ldm"))
    cap = write_console_capture(root / "synthetic" / "ldm_console.txt", ldm, total=50000,
                                config=LDM_CONFIG, ldm_steps=every, bars_per_record=4)
    cases.append(Case("synthetic/ldm_console", [cap], "healthy", [], forbidden=vae_words,
                      kind="ldm"))

    # neither kind: a classifier-like CSV; nothing VAE or diffusion about it
    s = np.arange(150) * 10
    rng = np.random.default_rng(3)
    other = pd.DataFrame({"step": s, "loss": 2.0 * np.exp(-s / 500) + 0.1
                          + 0.01 * rng.standard_normal(len(s)),
                          "accuracy": 0.9 - 0.8 * np.exp(-s / 400), "lr": 1e-3})
    p = root / "synthetic" / "other.csv"
    other.to_csv(p, index=False)
    cases.append(Case("synthetic/unknown_kind", [p], "healthy", [], forbidden=vae_words,
                      kind="unknown"))

    return cases + [_resume_case(root)]


def _resume_case(root: Path) -> Case:
    """RadioDiff's two logs of a resumed run: the first crashed at 22,000 (its last line cut
    mid-write), the second resumed from the 20,000 checkpoint 15 minutes later."""
    frame = _vae_frame(n=300)
    first = frame[frame["step"] < 22000].copy()
    lost = first["step"] >= 20000                       # the timeline the crash lost
    first.loc[lost, ["train/rec_loss", "train/nll_loss", "train/total_loss"]] *= 1.01
    second = frame[frame["step"] >= 20000].copy()
    second["time"] += float(first["time"].iloc[-1] - second["time"].iloc[0]) + 900
    d = root / "synthetic" / "resumed"
    plan = int(frame["step"].iloc[-1]) + 1            # the second log reaches the plan's end
    logs = [write_log(d / "a.log", first, config=None, noise_every=0, cut_last=True,
                      total=plan),
            write_log(d / "b.log", second, config=None, noise_every=0, total=plan)]
    return Case("synthetic/resumed_logs", logs, "healthy",
                [Expect("resumed", None, (20000, 20000), "info")], kind="vae")


def build_all(real_run_csv: Path, root: Path) -> list[Case]:
    """Every case: ~25-45 s, nearly all of it the trained corpus."""
    root = Path(root)
    return build_format_cases(real_run_csv, root) + build_synthetic_cases(root) + \
        build_trained_cases(root / "trained")


__all__ = ["build_all"]
