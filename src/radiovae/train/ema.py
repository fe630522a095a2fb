"""Exponential moving average of the weights: the weights evaluation and RadioDiff's stage 2 use.

``trainer.ema_schedule: radiodiff`` (the default) is RadioDiff's
``denoising_diffusion_pytorch/ema.py`` (``EMA.update`` lines 141-156, ``get_current_decay`` lines
132-139) with the defaults its train_vae.py Trainer passes, which are ``TrainerConfig``'s ``ema_*``
defaults (decay, update_every, update_after_step, inv_gamma, power): :meth:`EMA.update` is called
once per training step and counts its calls c = 0, 1, 2, ...; on every ``update_every``-th call
(c = 0, 10, 20, ...) the EMA weights are copied from the online ones while c <= ``update_after_step``
(and once more at the first call after it, ``initted``), and after that averaged,
ema <- d * ema + (1 - d) * online, with

    d = min(1 - (1 + n / inv_gamma) ** -power, decay),  n = c - update_after_step

(ema.py counts n from the incremented counter): d is about 0.8 at step 110 and about 0.995 from
~2.8k steps on. Floating-point buffers are averaged the same way, other buffers are left as they are
(ema.py lines 84-85).

``ema_schedule: tf_warmup`` is radiovae's earlier one: d = min(decay, (1 + u) / (10 + u)) after u
averaging updates, from the first (about 0.995 only after ~18k updates).

``loss`` (``ema_scope: all``): also average the loss module (``logvar``, the discriminator), as RadioDiff's EMA of the
whole model does. ``state_dict()`` uses RadioDiff's layout (``ema_model.<autoencoder param>``,
``ema_model.loss.<loss param>``, ``step`` and ``initted`` of shape [1]).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from radiovae.train.config import TrainerConfig

SCHEDULES = ("radiodiff", "tf_warmup")


class EMA:
    """The EMA of ``model`` (and of ``loss``), with the ``trainer.ema_*`` settings of ``config``.

    ``config``: a :class:`TrainerConfig` (default: its defaults, RadioDiff's); ``keys``: any of its
    ``ema_*`` fields over it (``EMA(net, ema_decay=0.5, ema_schedule="tf_warmup")``).
    """

    def __init__(self, model: nn.Module, config: TrainerConfig | None = None,
                 loss: nn.Module | None = None, **keys: Any):
        unknown = [k for k in keys if not k.startswith("ema_")]
        if unknown:
            raise TypeError(f"EMA takes trainer.ema_* settings, not {', '.join(unknown)}")
        tr = replace(config or TrainerConfig(), **keys)
        if tr.ema_schedule not in SCHEDULES:
            raise ValueError(f"EMA schedule must be one of {SCHEDULES}, not {tr.ema_schedule!r}")
        self.decay, self.update_every, self.schedule = tr.ema_decay, tr.ema_update_every, \
            tr.ema_schedule
        self.update_after_step, self.power = tr.ema_update_after_step, tr.ema_power
        self.inv_gamma = tr.ema_inv_gamma
        self.ema_model = copy.deepcopy(model).eval().requires_grad_(False)
        self.ema_loss = copy.deepcopy(loss).eval().requires_grad_(False) if loss is not None \
            else None
        self.calls = 0        # RadioDiff's ``step``: update() calls so far
        self.initted = False  # RadioDiff's ``initted``: averaging has begun
        self.updates = 0      # averaging updates so far (tf_warmup)

    def current_decay(self) -> float:
        """The decay the next averaging update uses (0 means: copy)."""
        if self.schedule == "tf_warmup":
            return min(self.decay, (1 + self.updates) / (10 + self.updates))
        n = max(self.calls - self.update_after_step - 1, 0)
        if n <= 0:
            return 0.0
        return min(max(1 - (1 + n / self.inv_gamma) ** -self.power, 0.0), self.decay)

    def _pairs(self, model: nn.Module, loss: nn.Module | None):
        pairs = [(self.ema_model, model)]
        if self.ema_loss is not None and loss is not None:
            pairs.append((self.ema_loss, loss))
        return pairs

    @torch.no_grad()
    def update(self, model: nn.Module, step: int | None = None, loss: nn.Module | None = None
               ) -> None:
        """Call once after each optimizer step (``step``, 0-based, is for the tf_warmup cadence)."""
        calls = self.calls
        self.calls += 1
        if self.schedule == "tf_warmup":
            if ((step if step is not None else calls) + 1) % self.update_every:
                return
            self._blend(model, loss, self.current_decay())
            self.updates += 1
            return
        if calls % self.update_every:
            return
        if calls <= self.update_after_step or not self.initted:
            self._blend(model, loss, 0.0)        # ema.py: copy, and copy once more when initting
            if calls <= self.update_after_step:
                return
            self.initted = True
        self._blend(model, loss, self.current_decay())   # decay of the incremented counter
        self.updates += 1

    def _blend(self, model: nn.Module, loss: nn.Module | None, d: float) -> None:
        for ema_mod, online in self._pairs(model, loss):
            ema_t = {**dict(ema_mod.named_parameters()), **dict(ema_mod.named_buffers())}
            for name, t in [*online.named_parameters(), *online.named_buffers()]:
                target = ema_t[name]
                if not target.is_floating_point():
                    continue
                src = t.detach().to(target.dtype)
                if d == 0.0:
                    target.copy_(src)
                else:
                    target.lerp_(src, 1.0 - d)

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {f"ema_model.{k}": v for k, v in self.ema_model.state_dict().items()}
        if self.ema_loss is not None:
            state.update({f"ema_model.loss.{k}": v for k, v in self.ema_loss.state_dict().items()})
        state["step"] = torch.tensor([self.calls])
        state["initted"] = torch.tensor([float(self.initted)])
        state["updates"] = torch.tensor([self.updates])
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        own = {k[len("ema_model."):]: v for k, v in state.items() if k.startswith("ema_model.")}
        self.ema_model.load_state_dict({k: v for k, v in own.items() if not k.startswith("loss.")})
        if self.ema_loss is not None:
            loss_state = {k[5:]: v for k, v in own.items() if k.startswith("loss.")}
            if loss_state:
                self.ema_loss.load_state_dict(loss_state)
        self.calls = int(state.get("step", torch.tensor([0])).reshape(-1)[0])
        self.initted = bool(state.get("initted", torch.tensor([0.0])).reshape(-1)[0])
        self.updates = int(state.get("updates", state.get("step", torch.tensor([0]))).reshape(-1)[0])
