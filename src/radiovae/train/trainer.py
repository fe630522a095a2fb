"""Train RadioDiff's first-stage VAE: ``radiovae train --config F --run-dir D [--max-steps N]``.

One loop, read top to bottom (after nanoGPT's train.py):

    for step in range(start, last):
        micro-batches -> VAEGANStep (G update, and D update from disc_start on)
        LR schedule, EMA, records every log_freq steps, checkpoint every save_and_sample_every

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
from radiovae.model import AutoencoderKL, VAEGANLoss, load_checkpoint, save_checkpoint
from radiovae.progress import make_progress
from radiovae.train.config import TrainConfig, load_config, resolve_config
from radiovae.train.datasets import batches, build_dataset, fit_size, resolve_simulation
from radiovae.train.distributed import setup_distributed
from radiovae.train.ema import EMA
from radiovae.train.records import Records
from radiovae.train.resume import (  # checkpoints, latest_checkpoint: also imported from here
    SaveFailed,
    checkpoints,  # noqa: F401
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


def lr_at(step: int, lr: float, min_lr: float, total_steps: int, mode: str = "absolute") -> float:
    """RadioDiff's polynomial decay (1 - step/N)^0.95, floored at ``min_lr`` (an absolute LR), or
    with ``mode="radiodiff"`` at ``lr * min_lr`` (train_vae.py line 133 floors the factor)."""
    factor = max(1.0 - step / total_steps, 0.0) ** 0.95
    if mode == "radiodiff":
        return lr * max(factor, min_lr)
    return max(lr * factor, min_lr)


# -- model ----------------------------------------------------------------------

def build_model(cfg: TrainConfig | dict) -> tuple[AutoencoderKL, VAEGANLoss]:
    model = cfg["model"]
    return (AutoencoderKL(dict(model["ddconfig"]), model["embed_dim"]),
            VAEGANLoss(**dict(model["lossconfig"])))


def init_from_checkpoint(path: str, autoencoder: AutoencoderKL, loss: VAEGANLoss, use_ema: bool
                         ) -> str:
    """``model.ckpt_path``: RadioDiff's ``init_from_ckpt`` (encoder_decoder.py lines 925-952).

    With ``use_ema`` and an ``ema`` entry: the EMA weights, the loss's (logvar, discriminator)
    included; else the online ones. The autoencoder must match exactly; loss tensors are taken
    when present. Returns one line saying what was loaded.
    """
    from radiovae.model import load_autoencoder
    from radiovae.model.checkpoint import loss_state

    ckpt = load_checkpoint(path)
    ae = load_autoencoder(path, ema=use_ema, config={"embed_dim": autoencoder.embed_dim,
                                                     "ddconfig": autoencoder.ddconfig})
    autoencoder.load_state_dict(ae.state_dict())
    state, source = loss_state(ckpt, use_ema)
    own = loss.state_dict()
    taken = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
    loss.load_state_dict({**own, **taken})
    return (f"model.ckpt_path {path}: autoencoder from its {source} weights"
            f"{', loss (logvar, discriminator) too' if taken else ', no loss weights in it'}")


class _DDPStep(VAEGANStep):
    """DDP averages the autoencoder's gradients; this averages the loss's own (logvar, D).

    Caveat: if a loss is non-finite on some processes only, they leave the step early while the
    others wait here; E's VAEGANStep would need to agree on finiteness across processes first.
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
    tr, data_cfg = cfg.trainer, cfg.data
    dist = setup_distributed(tr.device)
    total = tr.train_num_steps
    last = min(total, max_steps) if max_steps else total

    # Resume from the newest complete checkpoint of this run dir, if there is one.
    if dist.main:
        clean_stale_temp_files(run_dir)
    ckpt_path, ckpt = latest_checkpoint(run_dir, cfg, quiet=not dist.main)
    start = int(ckpt["step"]) if ckpt else 0
    if start >= last:
        print(f"{run_dir}: already at step {start} (target {last}); nothing to do")
        return {"step": start, "checkpoint": ckpt_path, "stopped": "done", "run_dir": run_dir}

    # Data: the training split, and a fixed held-out batch for the sample grids.
    notes = list(cfg.notes)
    picked = resolve_simulation(data_cfg)
    if picked:
        notes.append(picked)
    train_set = build_dataset(data_cfg, "train", progress=progress and dist.main)
    sample_set = build_dataset(data_cfg, "val", progress=progress and dist.main)
    n_samples = min(tr.num_samples, len(sample_set))
    sample_batch = torch.stack([sample_set[i]["image"] for i in range(n_samples)])
    sample_batch = fit_size(sample_batch, data_cfg.size).to(dist.device)

    # Model, optimizers (logvar trains with the autoencoder), schedulers, EMA, AMP.
    random.seed(tr.seed)
    np.random.seed(tr.seed)
    torch.manual_seed(tr.seed)
    autoencoder, loss = build_model(cfg)
    if ckpt is None and cfg.model.ckpt_path:
        notes.append(init_from_checkpoint(cfg.model.ckpt_path, autoencoder, loss,
                                          cfg.model.ckpt_use_ema))
    if dist.main:
        _announce(notes, progress)
    autoencoder.to(dist.device)
    loss.to(dist.device)
    opt_ae, opt_disc = build_optimizers(autoencoder, loss, tr.lr, tr.weight_decay,
                                        train_logvar=tr.train_logvar)

    def factor(s: int) -> float:
        return lr_at(s, tr.lr, tr.min_lr, total, tr.min_lr_mode) / tr.lr

    sched_ae = torch.optim.lr_scheduler.LambdaLR(opt_ae, factor)
    sched_disc = torch.optim.lr_scheduler.LambdaLR(opt_disc, factor)
    ema = EMA(autoencoder, tr.ema_decay, tr.ema_update_every,
              loss=loss if tr.ema_scope == "all" else None, schedule=tr.ema_schedule,
              update_after_step=tr.ema_update_after_step, power=tr.ema_power,
              inv_gamma=tr.ema_inv_gamma) if dist.main else None
    amp_dtype = amp_dtype_for(dist.device, tr.amp or tr.fp16, tr.fp16)
    scaler = torch.amp.GradScaler(dist.device.type) if amp_dtype == torch.float16 else None

    epoch = index = 0
    exact = False   # this process's RNG state and data position restored
    if ckpt is not None:
        try:   # checked by latest_checkpoint; anything it missed is one line, not a traceback
            model_state = ckpt["model"]
            autoencoder.load_state_dict({k: v for k, v in model_state.items()
                                         if not k.startswith("loss.")})
            loss.load_state_dict({k[5:]: v for k, v in model_state.items() if k.startswith("loss.")})
            opt_ae.load_state_dict(ckpt["opt_ae"])
            opt_disc.load_state_dict(ckpt["opt_disc"])
            sched_ae.load_state_dict(ckpt["lr_scheduler_ae"])
            sched_disc.load_state_dict(ckpt["lr_scheduler_disc"])
            if ema is not None:
                ema.load_state_dict(ckpt["ema"])
            if scaler is not None and ckpt.get("scaler"):
                scaler.load_state_dict(ckpt["scaler"])
            own, exact = own_process_state(ckpt, dist.rank, dist.world_size)
            epoch, index = int(own["data"]["epoch"]), int(own["data"]["index"])
            set_rng_state(own["rng"])
            if not exact and dist.main:
                print(f"radiovae: warning: {ckpt_path} was written by {ckpt.get('world_size', 1)} "
                      f"process(es), this run has {dist.world_size}: weights and optimizers resume, "
                      "but the random draws and data order will differ from an uninterrupted run",
                      flush=True)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as e:
            detail = " ".join(str(e).split())[:160]
            raise UserError(f"{ckpt_path} does not restore ({type(e).__name__}: {detail}); move "
                            "it out of the run dir to resume from the previous checkpoint") from None
    if dist.world_size > 1 and not exact:   # each process draws its own posterior noise
        torch.manual_seed(tr.seed * 7919 + dist.rank * 104729 + start)

    net = autoencoder
    step_cls = VAEGANStep
    if dist.world_size > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            autoencoder, device_ids=[dist.device.index] if dist.device.type == "cuda" else None)
        step_cls = _DDPStep
    step_fn = step_cls(net, loss, opt_ae, opt_disc, amp_dtype=amp_dtype,
                       grad_clip=tr.grad_clip, scaler=scaler,
                       gradient_accumulate_every=tr.gradient_accumulate_every)
    stream = batches(train_set, data_cfg.batch_size, seed=data_cfg.seed, epoch=epoch,
                     index=index, rank=dist.rank, world_size=dist.world_size,
                     num_workers=data_cfg.num_workers)
    records = Records(run_dir, cfg, total, start, notes=notes) if dist.main else None

    def save(done: int) -> Path | None:
        """Checkpoint after ``done`` steps (rank 0) and a sample grid from the EMA weights.

        Every rank's RNG state and data position go into rank 0's one file. A failed write
        (full disk) stops every rank with :class:`SaveFailed`; the previous checkpoint stays.
        """
        ranks = gather_process_states(process_state(epoch, index), dist.rank, dist.world_size)
        path = run_dir / "checkpoints" / f"model-{done}.pt"
        failed = None
        if dist.main:
            try:
                _write(path, done, ranks)
            except OSError as exc:
                failed = exc
        ok = failed is None
        if dist.world_size > 1:   # every rank learns whether rank 0's write worked
            ok = VAEGANStep._all_agree(ok)
        if ok:
            return path
        if failed is not None:
            raise SaveFailed(save_failed(path, done, saved, failed)) from None
        raise SaveFailed(f"rank 0 could not write {path}", quiet=True)

    def _write(path: Path, done: int, ranks: list) -> None:
        save_checkpoint(path, {
            "step": done,
            "model": {**autoencoder.state_dict(),
                      **{f"loss.{k}": v for k, v in loss.state_dict().items()}},
            "ema": ema.state_dict(),
            "opt_ae": opt_ae.state_dict(), "lr_scheduler_ae": sched_ae.state_dict(),
            "opt_disc": opt_disc.state_dict(), "lr_scheduler_disc": sched_disc.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": ranks[0]["rng"], "data": {**ranks[0]["data"], "seed": data_cfg.seed},
            "ranks": ranks,   # every process's RNG state and data position, in rank order
            "config": cfg.as_dict(), "world_size": dist.world_size, "radiovae": __version__,
        })
        with torch.no_grad():
            recon = ema.ema_model(sample_batch, sample_posterior=False)[0]
        records.samples(done, ((sample_batch + 1) / 2)[:, 0].float().cpu().numpy(),
                        ((recon + 1) / 2)[:, 0].float().cpu().numpy())

    info = TextColumn("{task.fields[info]}")
    bad_in_a_row, stopped, saved = 0, "done", ckpt_path
    try:
        with make_progress(info, disable=not (progress and dist.main)) as bar:
            task = bar.add_task("training", total=last, completed=start, info="")
            for step in range(start, last):
                # One optimizer step over gradient_accumulate_every micro-batches.
                micro = []
                for _ in range(tr.micro_batches):
                    images, epoch, index = next(stream)
                    micro.append(fit_size(images, data_cfg.size))
                lr = opt_ae.param_groups[0]["lr"]
                terms = step_fn(micro, step)
                with warnings.catch_warnings():   # opt_disc does not step in phase 1
                    warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step", UserWarning)
                    sched_ae.step()
                    sched_disc.step()
                skipped = terms.pop("nonfinite", 0.0) > 0
                bad_in_a_row = bad_in_a_row + 1 if skipped else 0
                if not skipped and ema is not None:
                    ema.update(autoencoder, step, loss)
                terms["lr"] = lr
                if skipped:
                    terms["skipped"] = 1.0
                done = step + 1
                if records is not None and (step % tr.log_freq == 0 or skipped or done == last):
                    records.log(step, terms)   # + the last step, so the records reach the end
                bar.update(task, completed=done, info=_short(terms))

                if bad_in_a_row >= tr.max_nonfinite_in_a_row:
                    saved, stopped = save(done), "diverged"
                    if records is not None:
                        records.finish(done, stopped)
                    bad = {k: v for k, v in terms.items() if not np.isfinite(v)}
                    raise TrainingDiverged(
                        f"{bad_in_a_row} non-finite steps in a row (last at step {step}: "
                        f"{', '.join(f'{k}={v}' for k, v in bad.items()) or 'gradient norm'}); "
                        f"stopped; the last good weights are in {saved} "
                        f"(lower trainer.lr, or raise trainer.max_nonfinite_in_a_row)")
                if done % tr.save_and_sample_every == 0 or done == last:
                    saved = save(done)
        if records is not None:
            records.finish(last, "max_steps" if last < total else stopped)
    except OSError as exc:   # a full disk while writing the records (a failed save: SaveFailed)
        if not disk_full(exc):
            raise
        raise UserError(records_failed(run_dir, saved)) from None
    finally:
        if records is not None:
            _close(records, failing=sys.exc_info()[0] is not None, saved=saved)
    if dist.main and progress:
        print(f"trained to step {last}/{total}; checkpoint {saved}; records in {run_dir}",
              flush=True)
    stopped = "max_steps" if last < total else stopped
    return {"step": last, "checkpoint": saved, "stopped": stopped, "run_dir": run_dir,
            "time": time.time()}


def _announce(notes: list[str], progress: bool) -> None:
    """The notice line: what of the config was mapped or has no effect (stderr, once)."""
    import sys

    mapped = [n for n in notes if not n.startswith("trainer.gradient_accumulate_every")]
    if mapped:
        sys.stderr.write("radiovae: notice: " + " | ".join(mapped) + "\n")
    if progress:
        print(next(n for n in notes if n.startswith("trainer.gradient_accumulate_every")),
              flush=True)


def _close(records: Records, failing: bool, saved: Path | None) -> None:
    """Close the records; while another error propagates, a second one from a full disk is not
    added to it."""
    try:
        records.close()
    except OSError as exc:
        if failing:
            return
        if disk_full(exc):
            raise UserError(records_failed(records.dir, saved)) from None
        raise


_SHOWN = (("train/rec_loss", "rec"), ("train/kl_loss", "kl"), ("train/logvar", "logvar"),
          ("train/d_weight", "d_w"), ("train/disc_loss", "disc"))


def _short(terms: dict[str, float]) -> str:
    return " ".join(f"{label} {terms[k]:.4g}" for k, label in _SHOWN if k in terms)
