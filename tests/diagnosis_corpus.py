"""The trained part of the labelled diagnosis suite: tiny real radiovae runs with real faults.

Every run trains radiovae's first-stage VAE-GAN on 16 x 16 synthetic radio maps (ch 8, one torch
thread, VAE phase for steps 0-40, VAE-GAN from step 41, 80 steps) through the public API
``radiovae.train.trainer.train(config, run_dir, max_steps=...)``. Faults are induced for real:

- ``lr_x1000``: trainer.lr (and min_lr) x 1000;
- ``logvar_frozen``: logvar left out of the autoencoder's optimizer (RadioDiff's train_vae.py);
- ``disc_never_stepped``: the discriminator's loss reaches none of its weights, so its
  optimizer never changes them (RadioDiff with gradient_accumulate_every 1);
- ``nan_step``: one batch's target turned to NaN at one step (the trainer skips that step);
- ``resumed_overlap``: a crash after step 59 with the last checkpoint at 40, and the resume, as
  RadioDiff leaves them: one log per launch, the first holding steps the second re-runs;
- ``d_weight_capped``: the adaptive d_weight pinned at its clamp 1e4 x disc_weight. The clamp
  acts on ||grad nll|| / ||grad g_loss|| *before* disc_weight multiplies it, so no disc_weight
  can make it bind; what makes it bind in RadioDiff is an NLL gradient ~1e4 x the adversarial
  one (a 256 x 256 map sums 64x more pixels than this one). Here the NLL's scale is raised the
  same way a small learned variance raises it: logvar starts at -6 (exp(6) ~ 400x);
- ``healthy``: the same run as ``resumed_overlap`` after its resume (radiovae resumes exactly).

All coupling to the trainer's internals is in this module: the run dir layout
(``checkpoints/model-<step>.pt``, ``train.log``, ``metrics.jsonl``) and two patches of the
loss's public methods (``VAEGANLoss.generator_parameters`` / ``discriminator_loss`` /
``generator_loss``). The corpus is built once per test session (the ``diagnosis_corpus``
fixture); the benchmark builds it too.
"""

from __future__ import annotations

import contextlib
import copy
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

from diagnosis_truth import Case, Expect

DISC_START = 41
STEPS = 80
PREFIX = 40            # the VAE phase every branch shares (its checkpoint)
CRASH_AT = 60          # the crashed launch logged steps < 60; its last checkpoint is at 40
NAN_AT = 67

TINY = {
    "model": {
        "embed_dim": 3,
        "lossconfig": {"disc_start": DISC_START, "kl_weight": 1e-6, "disc_weight": 0.5,
                       "disc_ndf": 8, "disc_num_layers": 2},
        "ddconfig": {"double_z": True, "z_channels": 3, "resolution": 16, "in_channels": 1,
                     "out_ch": 1, "ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1,
                     "attn_resolutions": [], "dropout": 0.0},
    },
    "data": {"name": "synthetic", "size": 16, "num_maps": 16, "tx_per_map": 2,
             "eval_num_maps": 2, "batch_size": 2, "seed": 0},
    # gradient_accumulate_every 2 (RadioDiff's meaning): one G and one D update per step
    "trainer": {"lr": 1e-3, "min_lr": 1e-5, "train_num_steps": STEPS,
                "gradient_accumulate_every": 2,
                "save_and_sample_every": 40, "log_freq": 2, "ema_decay": 0.99,
                "ema_update_every": 10, "device": "cpu", "num_samples": 2, "seed": 0},
}


def tiny_config(**changes: dict) -> dict:
    """TINY with ``section={key: value}`` changes (lossconfig under ``lossconfig``)."""
    cfg = copy.deepcopy(TINY)
    for section, values in changes.items():
        target = cfg["model"][section] if section in ("lossconfig", "ddconfig") else cfg[section]
        target.update(values)
    return cfg


# -- faults ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def logvar_not_optimized() -> Iterator[None]:
    from radiovae.model.loss import VAEGANLoss

    with mock.patch.object(VAEGANLoss, "generator_parameters", lambda self: []):
        yield


@contextlib.contextmanager
def discriminator_never_stepped() -> Iterator[None]:
    """The discriminator runs and is logged, but its loss reaches none of its weights."""
    from radiovae.model.loss import VAEGANLoss

    original = VAEGANLoss.discriminator_loss

    def untrained(self, x, x_hat, step):
        d_loss, log = original(self, x, x_hat, step)
        return d_loss.detach().requires_grad_(), log

    with mock.patch.object(VAEGANLoss, "discriminator_loss", untrained):
        yield


@contextlib.contextmanager
def nan_target_at(step_with_nan: int) -> Iterator[None]:
    """One batch's target is NaN at ``step_with_nan``: that step's losses are NaN."""
    from radiovae.model.loss import VAEGANLoss

    original = VAEGANLoss.generator_loss

    def corrupted(self, x, x_hat, posterior, step, *args, **kwargs):
        if step == step_with_nan:
            x = x * float("nan")
        return original(self, x, x_hat, posterior, step, *args, **kwargs)

    with mock.patch.object(VAEGANLoss, "generator_loss", corrupted):
        yield


def _train(cfg: dict, run_dir: Path, max_steps: int | None = None) -> None:
    import torch

    from radiovae.train.trainer import TrainingDiverged, train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(cfg, run_dir, max_steps=max_steps, progress=False)
    except TrainingDiverged:
        pass                       # the trainer stops a diverged run; its records stay
    finally:
        torch.set_num_threads(threads)


def _branch(prefix: Path, run_dir: Path) -> Path:
    """A copy of the run dir at its step-40 checkpoint, to continue differently."""
    shutil.copytree(prefix, run_dir)
    return run_dir


def _log_from(log: Path, first_step: int, out: Path) -> Path:
    """The lines a new launch resumed at ``first_step`` writes: its records from that step."""
    keep = [ln for ln in log.read_text(encoding="utf-8").splitlines(keepends=True)
            if (m := re.search(r"\[Train Step\] (\d+)/", ln)) and int(m.group(1)) >= first_step]
    out.write_text("".join(keep), encoding="utf-8")
    return out


# -- the corpus ------------------------------------------------------------------------------------

def _phase_change() -> Expect:
    return Expect("phase_change", "train/disc_factor", (DISC_START - 1, DISC_START + 2), "info")


def build_trained_cases(root: Path) -> list[Case]:
    """Train the runs (332 steps: ~15 s on 2 quiet cores, ~35 s on busy ones) and return their
    labelled cases."""
    root = Path(root)
    t0 = time.perf_counter()
    base = tiny_config()

    # healthy: stopped at 40 (the prefix the branches share), crashed after 59, resumed at 40
    healthy = root / "healthy"
    _train(base, healthy, max_steps=PREFIX)
    prefix = root / f"prefix{PREFIX}"
    shutil.copytree(healthy, prefix)
    _train(base, healthy, max_steps=CRASH_AT)
    (healthy / "checkpoints" / f"model-{CRASH_AT}.pt").unlink()      # died before it was saved
    attempt1 = root / "resumed" / "2026-01-01-10-00_.log"
    attempt1.parent.mkdir(parents=True)
    shutil.copy(healthy / "train.log", attempt1)
    _train(base, healthy)                                             # resumes from step 40
    attempt2 = _log_from(healthy / "train.log", PREFIX,
                         root / "resumed" / "2026-01-01-11-00_.log")

    nan_run = _branch(prefix, root / "nan_step")
    with nan_target_at(NAN_AT):
        _train(base, nan_run)

    untrained = _branch(prefix, root / "disc_never_stepped")
    with discriminator_never_stepped():
        _train(base, untrained)

    frozen = root / "logvar_frozen"          # 20 VAE-GAN steps are enough to show it
    with logvar_not_optimized():
        _train(base, frozen, max_steps=60)

    capped = root / "d_weight_capped"
    _train(tiny_config(lossconfig={"logvar_init": -6.0}), capped, max_steps=60)

    diverged = root / "lr_x1000"            # blows up within 8 steps: 32 show it
    _train(tiny_config(trainer={"lr": 1.0, "min_lr": 1e-2}), diverged, max_steps=32)
    seconds = time.perf_counter() - t0

    gan = (DISC_START, STEPS - 1)
    gan60 = (DISC_START, 59)
    cases = [
        # three launches (stop at 40, crash after 59, resume at 40): metrics.jsonl keeps one
        # history, the TensorBoard files show the launches; a resume is true, not required
        Case("trained/healthy", [healthy], "healthy", [_phase_change()], group="trained",
             allowed=[Expect("resumed", None, (PREFIX, PREFIX), "info")],
             note=f"corpus trained in {seconds:.0f} s"),
        Case("trained/resumed_overlap", [attempt1, attempt2], "healthy",
             [Expect("resumed", None, (PREFIX, PREFIX), "info"), _phase_change()],
             group="trained"),
        Case("trained/nan_step", [nan_run], "attention",
             [Expect("non_finite", m, (NAN_AT, NAN_AT), "warning") for m in
              ("train/total_loss", "train/nll_loss", "train/rec_loss", "train/d_weight")]
             + [_phase_change()], group="trained"),
        Case("trained/disc_never_stepped", [untrained], "attention",
             [Expect("discriminator_untrained", None, gan, "warning"), _phase_change()],
             group="trained"),
        Case("trained/logvar_frozen", [frozen], "attention",
             [Expect("frozen_metric", "train/logvar", (0, 59), "warning"),
              _phase_change()], group="trained"),
        # RadioDiff's rule (radiovae's default) pins d_weight by design: said at info
        Case("trained/d_weight_capped", [capped], "healthy",
             [Expect("weight_saturated", "train/d_weight", gan60, "info"), _phase_change()],
             group="trained"),
        # lr 1.0 (x1000): within 2 steps the KL jumps from 18 to 7e8, rec_loss from 1.2 to 181
        # and the total from 319 to 9,000; the KL stays above 1e8 to the end (healthy: ~100)
        Case("trained/lr_x1000", [diverged], "failing",
             [Expect("divergence", None, (0, 31), "critical")], group="trained"),
    ]
    return cases + [_as(c, fmt) for c in cases if c.paths[0].is_dir() for fmt in ("log", "tb")]


def _as(case: Case, fmt: str) -> Case:
    """The same run read from one of the other records its run dir holds: the RadioDiff-shaped
    train.log (config line included) or the TensorBoard events alone (no config)."""
    run_dir = case.paths[0]
    path = run_dir / "train.log" if fmt == "log" else run_dir / "tb"
    verdict, expect = case.verdict, case.expect
    if fmt == "tb" and case.name == "trained/logvar_frozen":
        # the events carry no config, so nothing says the run meant to learn logvar: a constant
        # logvar reads as RadioDiff's design (info), as it would for RadioDiff's own events
        verdict = "healthy"
        expect = [Expect(e.id, e.metric, e.steps, "info") if e.id == "frozen_metric" else e
                  for e in expect]
    return Case(f"{case.name}@{fmt}", [path], verdict, expect, group=case.group,
                forbidden=case.forbidden, allowed=case.allowed, note=case.note)
