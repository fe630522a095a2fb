"""One VAE-GAN training step: RadioDiff's two-phase update without its wasted work and defects.

Per micro-batch the autoencoder runs forward ONCE:

    phase 1 (step < disc_start):  x_hat = AE(x); loss_G = nll + kl_weight*kl; backward
                                  (no discriminator forward, no adaptive-weight gradients,
                                   the discriminator and its optimizer are not touched)
    phase 2 (step >= disc_start): x_hat = AE(x); loss_G (with d_weight * g_loss); backward;
                                  loss_D on the SAME x_hat, detached; backward

RadioDiff instead runs the autoencoder twice per step (once per optimizer), runs the discriminator
and two autograd.grad calls in phase 1 only to multiply them by 0, and steps its discriminator
optimizer with zero gradients (so AdamW's weight decay still shrinks it) during phase 1.

``gradient_accumulate_every`` has RadioDiff's meaning (train_vae.py lines 213-241): pass 0 updates
the autoencoder, passes 1 .. gae-1 the discriminator, each loss divided by gae; so 2 is one G and
one D update per step, and 1 never steps the discriminator (the G loss still has its GAN term from
disc_start on, as in RadioDiff). Extra D passes (gae > 2) reuse the step's reconstruction.

Gradients are accumulated over the micro-batches (radiovae's ``micro_batches``: each loss / n),
clipped to ``grad_clip`` per optimizer, then both optimizers step once. A non-finite loss (or, without an fp16 scaler, a
non-finite gradient norm) steps nothing: gradients are dropped and ``"nonfinite": 1`` is returned.
The LR schedule, EMA and logging are the trainer's.

Logged terms: RadioDiff's names (train/total_loss, train/logvar, train/kl_loss, train/nll_loss,
train/rec_loss, train/d_weight, train/disc_factor, train/g_loss; from disc_start on also
train/disc_loss, train/logits_real, train/logits_fake), averaged over the micro-batches, plus
``nonfinite``. In phase 1 d_weight and g_loss are recorded as 0: they are not computed (their
product with disc_factor = 0 is exactly 0), where RadioDiff logs values that had no effect.

Optimizers: ``opt_ae`` over ``autoencoder.parameters()`` + ``loss.generator_parameters()``
(the learned ``logvar``), ``opt_disc`` over ``loss.discriminator.parameters()``;
:func:`build_optimizers` makes both.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from radiovae.model.loss import VAEGANLoss
from radiovae.train.config import TrainerConfig


def amp_dtype_for(device: torch.device | str, amp: bool, fp16: bool) -> torch.dtype | None:
    """The autocast dtype for a device: bf16 where supported, fp16 if asked (CUDA), else None.

    CPU defaults to fp32 (None): bf16 autocast on CPU is slower than fp32 on most CPUs.
    """
    device = torch.device(device)
    if not amp or device.type != "cuda":
        return None
    if fp16 or not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


ADAMW_BETAS = (0.9, 0.999)   # AdamW's, as RadioDiff's train_vae.py uses them (not a config key)


def build_optimizers(autoencoder: nn.Module, loss: VAEGANLoss, config: TrainerConfig | None = None,
                     **keys: Any) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """AdamW for the autoencoder (+ ``logvar``), AdamW for the discriminator (RadioDiff: both lr).

    ``config``: the trainer section (``lr``, ``weight_decay``, ``train_logvar``; default: its
    defaults); ``keys``: any of its fields over it (``build_optimizers(ae, loss, lr=1e-3)``).
    ``logvar`` is a learned noise level, not a weight: it gets no weight decay.
    ``train_logvar=False`` leaves it out, as RadioDiff's train_vae.py does (lines 126-130: only
    encoder, decoder, quant_conv, post_quant_conv), so it stays at logvar_init. The fused AdamW
    kernel (same math, one kernel per step instead of ~10 ops per tensor) is used on CPU and CUDA;
    on CPU it makes the optimizer step ~10x faster, a sizeable share of a training step.
    """
    tr = replace(config or TrainerConfig(), **keys)
    devices = {p.device.type for p in [*autoencoder.parameters(), *loss.parameters()]}
    fused = devices <= {"cpu", "cuda"}
    groups: list[dict] = [{"params": list(autoencoder.parameters())}]
    if tr.train_logvar:
        groups.append({"params": loss.generator_parameters(), "weight_decay": 0.0})
    else:
        loss.logvar.requires_grad_(False)
    opt_ae = torch.optim.AdamW(groups, lr=tr.lr, betas=ADAMW_BETAS, weight_decay=tr.weight_decay,
                               fused=fused)
    opt_disc = torch.optim.AdamW(loss.discriminator.parameters(), lr=tr.lr, betas=ADAMW_BETAS,
                                 weight_decay=tr.weight_decay, fused=fused)
    return opt_ae, opt_disc


class VAEGANStep:
    """Callable: ``step_fn(micro_batches, step) -> {"train/...": float, ..., "nonfinite": 0|1}``.

    ``config``: the trainer section (``grad_clip``, ``gradient_accumulate_every``; default: its
    defaults); ``keys``: either of them over it.
    ``scaler``: a ``torch.amp.GradScaler`` when ``amp_dtype`` is fp16 (created here if None).
    ``generator``: optional ``torch.Generator`` for the posterior samples (default: global RNG).
    """

    def __init__(self, autoencoder: nn.Module, loss: VAEGANLoss,
                 opt_ae: torch.optim.Optimizer, opt_disc: torch.optim.Optimizer,
                 config: TrainerConfig | None = None, *, amp_dtype: torch.dtype | None = None,
                 scaler: torch.amp.GradScaler | None = None, sample_posterior: bool = True,
                 generator: torch.Generator | None = None, **keys: Any):
        tr = replace(config or TrainerConfig(), **keys)
        self.autoencoder = autoencoder
        self.loss = loss
        self.opt_ae = opt_ae
        self.opt_disc = opt_disc
        self.amp_dtype = amp_dtype
        self.grad_clip = tr.grad_clip
        self.sample_posterior = sample_posterior
        self.generator = generator
        if tr.gradient_accumulate_every < 1:
            raise ValueError("gradient_accumulate_every must be >= 1")
        self.disc_updates = tr.gradient_accumulate_every - 1
        self.loss_scale = 1.0 / tr.gradient_accumulate_every
        self.device = next(autoencoder.parameters()).device
        if amp_dtype == torch.float16 and scaler is None:
            scaler = torch.amp.GradScaler(self.device.type)
        self.scaler = scaler
        self._ae = getattr(autoencoder, "module", autoencoder)  # unwrap DDP for get_last_layer

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def __call__(self, micro_batches: Sequence[torch.Tensor], step: int) -> dict[str, float]:
        n = len(micro_batches)
        gan = self.loss.gan_active(step) and self.disc_updates > 0   # a D update this step
        scale = self.loss_scale / n
        grad_scale = self.scaler.get_scale() if self.scaler is not None else 1.0
        self.opt_ae.zero_grad(set_to_none=True)
        if gan:
            self.opt_disc.zero_grad(set_to_none=True)

        logs: list[dict[str, torch.Tensor]] = []
        fakes: list[tuple[torch.Tensor, torch.Tensor]] = []
        for i, x in enumerate(micro_batches):
            x = x.to(self.device, non_blocking=True)
            sync = i == n - 1 or not hasattr(self.autoencoder, "no_sync")  # DDP: reduce once
            with contextlib.nullcontext() if sync else self.autoencoder.no_sync():
                with self._autocast():
                    x_hat, posterior = self.autoencoder(x, self.sample_posterior, self.generator)
                    loss_g, log = self.loss.generator_loss(
                        x, x_hat, posterior, step, self._ae.get_last_layer(), grad_scale)
                self._backward(loss_g * scale)
            if gan:  # the discriminator sees the reconstruction we already have
                with self._autocast():
                    loss_d, log_d = self.loss.discriminator_loss(x, x_hat.detach(), step)
                self._backward(loss_d * scale)
                log.update(log_d)
                if self.disc_updates > 1:
                    fakes.append((x, x_hat.detach()))
            logs.append(log)

        names = list(logs[0])
        values = torch.stack([torch.stack([lg[k].to(self.device).float() for k in names])
                              for lg in logs]).mean(0).tolist()  # one host sync per step
        record = dict(zip(names, values, strict=True))
        finite = self._all_agree(all(math.isfinite(v) for v in record.values()))
        opts = [self.opt_ae, self.opt_disc] if gan else [self.opt_ae]
        if finite:
            finite = self._all_agree(all([self._unscale_and_clip(opt) for opt in opts]))
        if finite:
            for opt in opts:
                self.scaler.step(opt) if self.scaler is not None else opt.step()
            if self.scaler is not None:
                self.scaler.update()
            for _ in range(self.disc_updates - 1 if gan else 0):   # RadioDiff's passes 2..gae-1
                self._extra_disc_update(fakes, step, scale)
        else:  # drop whatever was accumulated; nothing is stepped
            self.opt_ae.zero_grad(set_to_none=True)
            self.opt_disc.zero_grad(set_to_none=True)
        record["nonfinite"] = 0.0 if finite else 1.0
        return record

    def _extra_disc_update(self, fakes: list[tuple[torch.Tensor, torch.Tensor]], step: int,
                           scale: float) -> None:
        self.opt_disc.zero_grad(set_to_none=True)
        for x, x_hat in fakes:
            with self._autocast():
                loss_d, _ = self.loss.discriminator_loss(x, x_hat, step)
            self._backward(loss_d * scale)
        if self._unscale_and_clip(self.opt_disc):
            self.scaler.step(self.opt_disc) if self.scaler is not None else self.opt_disc.step()
            if self.scaler is not None:
                self.scaler.update()

    @staticmethod
    def _all_agree(flag: bool) -> bool:
        """True only if ``flag`` holds on every process (so all skip, or all step, together)."""
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()
                and torch.distributed.get_world_size() > 1):
            return flag
        backend = torch.distributed.get_backend()
        t = torch.tensor([float(flag)], device="cuda" if backend == "nccl" else "cpu")
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MIN)
        return bool(t.item())

    def _unscale_and_clip(self, opt: torch.optim.Optimizer) -> bool:
        """Clip one optimizer's gradients to ``grad_clip``; False on a non-finite norm.

        With an fp16 scaler an inf/nan gradient is routine (the scale is too high): the scaler
        itself skips that step and lowers the scale, so it is not reported as non-finite.
        """
        params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if self.scaler is not None:
            self.scaler.unscale_(opt)
        if self.grad_clip is None or not params:
            return True
        norm = torch.nn.utils.clip_grad_norm_(params, self.grad_clip, foreach=True)
        return self.scaler is not None or bool(torch.isfinite(norm))
