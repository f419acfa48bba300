"""Exponential moving average of the network weights.

``shadow <- d * shadow + (1 - d) * online`` with ``d = min(decay, (1 + n) / (10 + n))`` after
``n`` updates when ``warmup`` is on (the reference code's warm-up), so early averages are not
dominated by the random initialisation.  The EMA is the no-grad target network of L_base and,
by default, the network used for sampling.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA(nn.Module):
    """Holds ``shadow``, a frozen copy of the online network, and the update count."""

    def __init__(self, network: nn.Module, decay: float = 0.99, warmup: bool = True) -> None:
        super().__init__()
        if not 0 < decay < 1:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay, self.warmup = decay, warmup
        self.shadow = copy.deepcopy(network).requires_grad_(False).eval()
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def current_decay(self) -> float:
        n = int(self.updates)
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, network: nn.Module) -> None:
        d = self.current_decay()
        online = dict(network.named_parameters())
        for name, param in self.shadow.named_parameters():
            param.lerp_(online[name].detach().to(param.dtype), 1 - d)
        online_buffers = dict(network.named_buffers())
        for name, buf in self.shadow.named_buffers():
            buf.copy_(online_buffers[name])
        self.updates += 1

    def forward(self, *args, **kwargs):
        return self.shadow(*args, **kwargs)
