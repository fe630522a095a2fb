"""Train RadioDiff's first-stage VAE: ``radiovae train --config F --run-dir D [--max-steps N]``.

One loop, read top to bottom (after nanoGPT's train.py); each line a named step:

    resume point, data, model + optimizers + EMA (restored from the checkpoint, if any)
    for step in range(start, last):
        terms = run.train_step(step)      # micro-batches -> VAEGANStep, LR schedule, EMA
        run.log(step, terms)              # every log_freq steps, skipped steps, the last one
        run.stop_if_diverged(step, terms) # max_nonfinite_in_a_row skipped steps: checkpoint, stop
        run.checkpoint_if_due(step + 1)   # every save_and_sample_every steps and at the end

What differs from RadioDiff's train_vae.py, on purpose (README: every deviation and its switch):
  * ``logvar`` trains (``trainer.train_logvar``; RadioDiff leaves it out of every optimizer);
  * ``min_lr`` is a floor on the learning rate itself: lr(s) = max(lr * (1 - s/N)^0.95, min_lr)
    (``trainer.min_lr_mode: radiodiff`` floors the *factor* at min_lr, as RadioDiff does);
  * ``gradient_accumulate_every`` keeps RadioDiff's meaning (one G and gae - 1 D updates per batch);
    ``trainer.micro_batches`` is radiovae's true accumulation;
  * a checkpoint holds everything the next step depends on (weights, EMA, optimizers, schedulers,
    scaler, every RNG, the data position), so a resumed run repeats an uninterrupted one exactly;
  * non-finite steps are skipped and recorded; ``max_nonfinite_in_a_row`` of them stop the run.

Steps are numbered as RadioDiff numbers them: step s (0-based) is logged when s % log_freq == 0
(and the last step of a run, so the records reach its end);
a checkpoint taken after s steps is ``checkpoints/model-<s>.pt`` with ``"step": s`` (the next step
to run). Multi-GPU / multi-node: launch with ``torchrun`` or ``accelerate launch --multi_gpu
--num_processes N -m radiovae train``; both set RANK / WORLD_SIZE / LOCAL_RANK, which start
torch.distributed (DDP) here; without them the run is a single process. Only rank 0 writes records
and checkpoints; it gathers every rank's RNG state and data position into them (train/resume.py).
"""

from __future__ import annotations

import os
import random
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as torch_dist
from rich.progress import TextColumn

from radiovae import __version__
from radiovae.errors import UserError
from radiovae.model import build_model, init_from_checkpoint, save_checkpoint
from radiovae.progress import make_progress
from radiovae.train.config import TrainConfig, load_config, resolve_config
from radiovae.train.datasets import batches, build_dataset, fit_size, resolve_simulation
from radiovae.train.distributed import Dist, setup_distributed
from radiovae.train.ema import EMA
from radiovae.train.records import RunDirWriter
from radiovae.train.resume import (
    SaveFailed,
    clean_stale_temp_files,
    disk_full,
    gather_process_states,
    latest_checkpoint,
    own_process_state,
    process_state,
    records_failed,
    save_failed,
    set_rng_state,
)
from radiovae.train.step import VAEGANStep, amp_dtype_for, build_optimizers

EXIT_DIVERGED = 3   # `radiovae train` exit status when non-finite losses stop a run


class TrainingDiverged(RuntimeError):
    """Too many non-finite steps in a row; a checkpoint of the last good weights was written."""


def lr_at(step: int, lr: float, min_lr: float, total_steps: int, mode: str) -> float:
    """RadioDiff's polynomial decay (1 - step/N)^0.95, floored at ``min_lr`` (an absolute LR), or
    with ``mode="radiodiff"`` at ``lr * min_lr`` (train_vae.py line 133 floors the factor)."""
    factor = max(1.0 - step / total_steps, 0.0) ** 0.95
    if mode == "radiodiff":
        return lr * max(factor, min_lr)
    return max(lr * factor, min_lr)


class _DDPStep(VAEGANStep):
    """DDP averages the autoencoder's gradients; this averages the loss's own (logvar, D).

    Caveat: if a loss is non-finite on some processes only, they leave the step early while the
    others wait here; VAEGANStep would need to agree on finiteness across processes first.
    """

    def _unscale_and_clip(self, opt: torch.optim.Optimizer) -> bool:
        own = {id(p) for p in self.autoencoder.parameters()}
        for group in opt.param_groups:
            for p in group["params"]:
                if id(p) in own:
                    continue
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                torch_dist.all_reduce(p.grad)
                p.grad.div_(torch_dist.get_world_size())
        return super()._unscale_and_clip(opt)


# -- the run ---------------------------------------------------------------------------------------

def train(config: TrainConfig | dict | str | os.PathLike, run_dir: str | os.PathLike,
          max_steps: int | None = None, progress: bool = True,
          overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Train (or resume) the run in ``run_dir``; returns {step, checkpoint, stopped, run_dir}.

    ``config``: a resolved config, a user config dict, or a YAML path / shipped config name;
    ``overrides``: ``--set`` items (``"trainer.lr=1e-4"``).
    ``max_steps``: stop after that many steps in total (with a checkpoint), else at
    ``trainer.train_num_steps``. Raises :class:`TrainingDiverged` after too many non-finite steps.
    """
    cfg = resolve_config(config, overrides=overrides) if isinstance(config, (dict, TrainConfig)) \
        else load_config(config, overrides)
    run_dir = Path(run_dir)
    dist = setup_distributed(cfg.trainer.device)
    total = cfg.trainer.train_num_steps
    last = min(total, max_steps) if max_steps else total
    ckpt_path, ckpt = _maybe_resume(run_dir, cfg, dist)
    start = int(ckpt["step"]) if ckpt else 0
    if start >= last:
        print(f"{run_dir}: already at step {start} (target {last}); nothing to do")
        return {"step": start, "checkpoint": ckpt_path, "stopped": "done", "run_dir": run_dir}

    run = _Run(cfg, run_dir, dist, start, last, progress, ckpt_path, ckpt)
    info = TextColumn("{task.fields[info]}")
    try:
        with make_progress(info, disable=not (progress and dist.main)) as bar:
            task = bar.add_task("training", total=last, completed=start, info="")
            for step in range(start, last):
                terms = run.train_step(step)
                run.log(step, terms)
                bar.update(task, completed=step + 1, info=_short(terms))
                run.stop_if_diverged(step, terms)
                run.checkpoint_if_due(step + 1)
        run.finish("max_steps" if last < total else "done")
    except OSError as exc:   # a full disk while writing the records (a failed save: SaveFailed)
        if not disk_full(exc):
            raise
        raise UserError(records_failed(run_dir, run.saved)) from None
    finally:
        run.close(failing=sys.exc_info()[0] is not None)
    if dist.main and progress:
        print(f"trained to step {last}/{total}; checkpoint {run.saved}; records in {run_dir}",
              flush=True)
    return {"step": last, "checkpoint": run.saved,
            "stopped": "max_steps" if last < total else "done", "run_dir": run_dir,
            "time": time.time()}


def _maybe_resume(run_dir: Path, cfg: TrainConfig, dist: Dist) -> tuple[Path | None, dict | None]:
    """The newest complete checkpoint of this run dir, if there is one (leftover temp files of
    killed saves removed first)."""
    if dist.main:
        clean_stale_temp_files(run_dir)
    return latest_checkpoint(run_dir, cfg, quiet=not dist.main)


class _Run:
    """One training run's parts and state: what the loop's named steps read and change."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, dist: Dist, start: int, last: int,
                 progress: bool, ckpt_path: Path | None, ckpt: dict | None):
        self.cfg, self.tr, self.run_dir, self.dist = cfg, cfg.trainer, run_dir, dist
        self.last, self.saved = last, ckpt_path
        self.bad_in_a_row = 0
        notes = self._load_data(progress)
        self._build_model(ckpt, notes, progress)
        self.epoch, self.index = self._restore(ckpt, ckpt_path, start)
        self.step_fn = self._step_fn()
        self.stream = batches(self.train_set, cfg.data.batch_size, seed=cfg.data.seed,
                              epoch=self.epoch, index=self.index, rank=dist.rank,
                              world_size=dist.world_size, num_workers=cfg.data.num_workers)
        self.records = RunDirWriter(run_dir, cfg, self.tr.train_num_steps, start, notes=notes) \
            if dist.main else None

    # -- setting up ----------------------------------------------------------------------------

    def _load_data(self, progress: bool) -> list[str]:
        """The training split, and a fixed held-out batch for the sample grids; the run's notes."""
        data, shown = self.cfg.data, progress and self.dist.main
        notes = list(self.cfg.notes)
        picked = resolve_simulation(data)
        if picked:
            notes.append(picked)
        self.train_set = build_dataset(data, "train", progress=shown)
        sample_set = build_dataset(data, "val", progress=shown)
        n_samples = min(self.tr.num_samples, len(sample_set))
        sample_batch = torch.stack([sample_set[i]["image"] for i in range(n_samples)])
        self.sample_batch = fit_size(sample_batch, data.size).to(self.dist.device)
        return notes

    def _build_model(self, ckpt: dict | None, notes: list[str], progress: bool) -> None:
        """Model, optimizers (logvar trains with the autoencoder), schedulers, EMA, AMP."""
        tr, dist, model_cfg = self.tr, self.dist, self.cfg.model
        random.seed(tr.seed)
        np.random.seed(tr.seed)
        torch.manual_seed(tr.seed)
        self.autoencoder, self.loss = build_model(model_cfg)
        if ckpt is None and model_cfg.ckpt_path:
            notes.append(init_from_checkpoint(model_cfg.ckpt_path, self.autoencoder, self.loss,
                                              model_cfg.ckpt_use_ema))
        if dist.main:
            _announce(notes, progress)
        self.autoencoder.to(dist.device)
        self.loss.to(dist.device)
        self.opt_ae, self.opt_disc = build_optimizers(self.autoencoder, self.loss, tr)

        def factor(s: int) -> float:
            return lr_at(s, tr.lr, tr.min_lr, tr.train_num_steps, tr.min_lr_mode) / tr.lr

        self.sched_ae = torch.optim.lr_scheduler.LambdaLR(self.opt_ae, factor)
        self.sched_disc = torch.optim.lr_scheduler.LambdaLR(self.opt_disc, factor)
        self.ema = EMA(self.autoencoder, tr, loss=self.loss if tr.ema_scope == "all" else None) \
            if dist.main else None
        self.amp_dtype = amp_dtype_for(dist.device, tr.amp or tr.fp16, tr.fp16)
        self.scaler = torch.amp.GradScaler(dist.device.type) \
            if self.amp_dtype == torch.float16 else None

    def _restore(self, ckpt: dict | None, ckpt_path: Path | None, start: int) -> tuple[int, int]:
        """Weights, optimizers, schedulers, EMA, scaler, this process's RNG state and data position
        from ``ckpt``; returns the data position (epoch, index)."""
        dist, exact, epoch, index = self.dist, False, 0, 0
        if ckpt is not None:
            try:   # checked by latest_checkpoint; anything it missed is one line, not a traceback
                self._load_state(ckpt)
                own, exact = own_process_state(ckpt, dist.rank, dist.world_size)
                epoch, index = int(own["data"]["epoch"]), int(own["data"]["index"])
                set_rng_state(own["rng"])
            except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as e:
                detail = " ".join(str(e).split())[:160]
                raise UserError(f"{ckpt_path} does not restore ({type(e).__name__}: {detail}); "
                                "move it out of the run dir to resume from the previous checkpoint"
                                ) from None
            if not exact and dist.main:
                print(f"radiovae: warning: {ckpt_path} was written by {ckpt.get('world_size', 1)} "
                      f"process(es), this run has {dist.world_size}: weights and optimizers "
                      "resume, but the random draws and data order will differ from an "
                      "uninterrupted run", flush=True)
        if dist.world_size > 1 and not exact:   # each process draws its own posterior noise
            torch.manual_seed(self.tr.seed * 7919 + dist.rank * 104729 + start)
        return epoch, index

    def _load_state(self, ckpt: dict) -> None:
        model_state = ckpt["model"]
        self.autoencoder.load_state_dict({k: v for k, v in model_state.items()
                                          if not k.startswith("loss.")})
        self.loss.load_state_dict({k[5:]: v for k, v in model_state.items()
                                   if k.startswith("loss.")})
        self.opt_ae.load_state_dict(ckpt["opt_ae"])
        self.opt_disc.load_state_dict(ckpt["opt_disc"])
        self.sched_ae.load_state_dict(ckpt["lr_scheduler_ae"])
        self.sched_disc.load_state_dict(ckpt["lr_scheduler_disc"])
        if self.ema is not None:
            self.ema.load_state_dict(ckpt["ema"])
        if self.scaler is not None and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])

    def _step_fn(self) -> VAEGANStep:
        """The optimizer step: the autoencoder wrapped in DDP under more than one process."""
        dist, net, step_cls = self.dist, self.autoencoder, VAEGANStep
        if dist.world_size > 1:
            net = torch.nn.parallel.DistributedDataParallel(
                self.autoencoder,
                device_ids=[dist.device.index] if dist.device.type == "cuda" else None)
            step_cls = _DDPStep
        return step_cls(net, self.loss, self.opt_ae, self.opt_disc, self.tr,
                        amp_dtype=self.amp_dtype, scaler=self.scaler)

    # -- the loop's steps --------------------------------------------------------------------------

    def train_step(self, step: int) -> dict[str, float]:
        """One optimizer step over ``micro_batches`` batches, the LR schedule, the EMA; its terms
        (``lr``: the step's LR; ``skipped``: 1 for a non-finite step, which changed nothing)."""
        micro = []
        for _ in range(self.tr.micro_batches):
            images, self.epoch, self.index = next(self.stream)
            micro.append(fit_size(images, self.cfg.data.size))
        lr = self.opt_ae.param_groups[0]["lr"]
        terms = self.step_fn(micro, step)
        with warnings.catch_warnings():   # opt_disc does not step in phase 1
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step", UserWarning)
            self.sched_ae.step()
            self.sched_disc.step()
        skipped = terms.pop("nonfinite", 0.0) > 0
        self.bad_in_a_row = self.bad_in_a_row + 1 if skipped else 0
        if not skipped and self.ema is not None:
            self.ema.update(self.autoencoder, step, self.loss)
        terms["lr"] = lr
        if skipped:
            terms["skipped"] = 1.0
        return terms

    def log(self, step: int, terms: dict[str, float]) -> None:
        """Every ``log_freq`` steps, every skipped step, and the last (the records reach the end)."""
        if self.records is not None and (step % self.tr.log_freq == 0 or "skipped" in terms
                                         or step + 1 == self.last):
            self.records.log(step, terms)

    def stop_if_diverged(self, step: int, terms: dict[str, float]) -> None:
        """After ``max_nonfinite_in_a_row`` skipped steps: checkpoint, end marker, and stop."""
        if self.bad_in_a_row < self.tr.max_nonfinite_in_a_row:
            return
        self.saved = self._save(step + 1)
        if self.records is not None:
            self.records.finish(step + 1, "diverged")
        bad = {k: v for k, v in terms.items() if not np.isfinite(v)}
        raise TrainingDiverged(
            f"{self.bad_in_a_row} non-finite steps in a row (last at step {step}: "
            f"{', '.join(f'{k}={v}' for k, v in bad.items()) or 'gradient norm'}); "
            f"stopped; the last good weights are in {self.saved} "
            f"(lower trainer.lr, or raise trainer.max_nonfinite_in_a_row)")

    def checkpoint_if_due(self, done: int) -> None:
        """Every ``save_and_sample_every`` steps, and after the run's last step."""
        if done % self.tr.save_and_sample_every == 0 or done == self.last:
            self.saved = self._save(done)

    def finish(self, stopped: str) -> None:
        if self.records is not None:
            self.records.finish(self.last, stopped)

    # -- checkpoints -----------------------------------------------------------------------------

    def _save(self, done: int) -> Path:
        """Checkpoint after ``done`` steps (rank 0) and a sample grid from the EMA weights.

        Every rank's RNG state and data position go into rank 0's one file. A failed write
        (full disk) stops every rank with :class:`SaveFailed`; the previous checkpoint stays.
        """
        dist = self.dist
        ranks = gather_process_states(process_state(self.epoch, self.index), dist.rank,
                                      dist.world_size)
        path = self.run_dir / "checkpoints" / f"model-{done}.pt"
        failed = None
        if dist.main:
            try:
                self._write(path, done, ranks)
            except OSError as exc:
                failed = exc
        ok = failed is None
        if dist.world_size > 1:   # every rank learns whether rank 0's write worked
            ok = VAEGANStep._all_agree(ok)
        if ok:
            return path
        if failed is not None:
            raise SaveFailed(save_failed(path, done, self.saved, failed)) from None
        raise SaveFailed(f"rank 0 could not write {path}", quiet=True)

    def _write(self, path: Path, done: int, ranks: list) -> None:
        save_checkpoint(path, {
            "step": done,
            "model": {**self.autoencoder.state_dict(),
                      **{f"loss.{k}": v for k, v in self.loss.state_dict().items()}},
            "ema": self.ema.state_dict(),
            "opt_ae": self.opt_ae.state_dict(), "lr_scheduler_ae": self.sched_ae.state_dict(),
            "opt_disc": self.opt_disc.state_dict(),
            "lr_scheduler_disc": self.sched_disc.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": ranks[0]["rng"], "data": {**ranks[0]["data"], "seed": self.cfg.data.seed},
            "ranks": ranks,   # every process's RNG state and data position, in rank order
            "config": self.cfg.as_dict(), "world_size": self.dist.world_size,
            "radiovae": __version__,
        })
        with torch.no_grad():
            recon = self.ema.ema_model(self.sample_batch, sample_posterior=False)[0]
        self.records.samples(done, ((self.sample_batch + 1) / 2)[:, 0].float().cpu().numpy(),
                             ((recon + 1) / 2)[:, 0].float().cpu().numpy())

    def close(self, failing: bool) -> None:
        """Close the records; while another error propagates, a second one from a full disk is
        not added to it."""
        if self.records is None:
            return
        try:
            self.records.close()
        except OSError as exc:
            if failing:
                return
            if disk_full(exc):
                raise UserError(records_failed(self.run_dir, self.saved)) from None
            raise


def _announce(notes: list[str], progress: bool) -> None:
    """The notice line: what of the config was mapped or has no effect (stderr, once)."""
    mapped = [n for n in notes if not n.startswith("trainer.gradient_accumulate_every")]
    if mapped:
        sys.stderr.write("radiovae: notice: " + " | ".join(mapped) + "\n")
    if progress:
        print(next(n for n in notes if n.startswith("trainer.gradient_accumulate_every")),
              flush=True)


_SHOWN = (("train/rec_loss", "rec"), ("train/kl_loss", "kl"), ("train/logvar", "logvar"),
          ("train/d_weight", "d_w"), ("train/disc_loss", "disc"))


def _short(terms: dict[str, float]) -> str:
    return " ".join(f"{label} {terms[k]:.4g}" for k, label in _SHOWN if k in terms)
