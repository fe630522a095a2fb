"""Exponential moving average of the autoencoder's weights, the weights evaluation uses.

Every ``update_every`` steps: ema <- d * ema + (1 - d) * online, with the warm-up
d = min(decay, (1 + n) / (10 + n)) after n updates, so that early weights are not frozen in for the
~1 / (1 - decay) updates a plain average would keep them. Buffers are copied. ``state_dict()`` uses
the key layout of RadioDiff's ``EMA`` (``ema_model.<param>``, ``step``, ``initted``), so its tools
read ours and :func:`radiovae.load_autoencoder` reads both.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float = 0.995, update_every: int = 10):
        self.decay, self.update_every = decay, update_every
        self.ema_model = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Call after optimizer step ``step`` (0-based); averages every ``update_every`` steps."""
        if (step + 1) % self.update_every:
            return
        d = self.current_decay()
        ema_params = dict(self.ema_model.named_parameters())
        for name, p in model.named_parameters():
            ema_params[name].lerp_(p.detach().to(ema_params[name].dtype), 1.0 - d)
        ema_buffers = dict(self.ema_model.named_buffers())
        for name, b in model.named_buffers():
            ema_buffers[name].copy_(b)
        self.updates += 1

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {f"ema_model.{k}": v for k, v in self.ema_model.state_dict().items()}
        state["step"] = torch.tensor(self.updates)
        state["initted"] = torch.tensor(True)
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        prefix = "ema_model."
        self.ema_model.load_state_dict({k[len(prefix):]: v for k, v in state.items()
                                        if k.startswith(prefix)})
        self.updates = int(state.get("step", torch.tensor(0)))
