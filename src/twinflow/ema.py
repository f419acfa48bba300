"""Exponential moving average of the network weights.

``shadow <- d * shadow + (1 - d) * online`` with ``d = min(decay, (1 + n) / (10 + n))`` after
``n`` updates when ``warmup`` is on (the reference code's warm-up), so early averages are not
dominated by the random initialisation.  The EMA is the no-grad target network of L_base and,
by default, the network used for sampling.

Only trainable parameters are averaged.  Frozen ones (the base weights under LoRA) are shared
between the online network and ``shadow`` (same tensors, no copy), and left out of the EMA's
state dict, so a LoRA model's EMA costs the adapters' size, not the backbone's.
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
        frozen = {id(p): p for p in network.parameters() if not p.requires_grad}
        self.shadow = copy.deepcopy(network, memo=dict(frozen)).requires_grad_(False).eval()
        self.shared = {n for n, p in self.shadow.named_parameters() if id(p) in frozen}
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self._register_state_dict_hook(_drop_shared)
        self.register_load_state_dict_post_hook(_allow_missing_shared)

    def current_decay(self) -> float:
        n = int(self.updates)
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, network: nn.Module) -> None:
        d = self.current_decay()
        online = dict(network.named_parameters())
        for name, param in self.shadow.named_parameters():
            if name in self.shared:
                continue
            param.lerp_(online[name].detach().to(param.dtype), 1 - d)
        online_buffers = dict(network.named_buffers())
        for name, buf in self.shadow.named_buffers():
            buf.copy_(online_buffers[name])
        self.updates += 1

    def forward(self, *args, **kwargs):
        return self.shadow(*args, **kwargs)


def _drop_shared(module: EMA, state: dict, prefix: str, local_metadata: dict) -> None:
    """State-dict hook: the shared frozen weights are saved once, under the online network."""
    for name in module.shared:
        state.pop(f"{prefix}shadow.{name}", None)


def _allow_missing_shared(module: EMA, incompatible) -> None:
    """Load post-hook: shared weights are absent from the EMA's saved state on purpose."""
    shared = {f"shadow.{name}" for name in module.shared}
    keep = [k for k in incompatible.missing_keys if not any(k.endswith(s) for s in shared)]
    incompatible.missing_keys[:] = keep
