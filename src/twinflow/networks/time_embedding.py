"""Time conditioning for two times: ``temb = emb(t) + (t - r) * emb2(r)``.

``emb2`` starts as an exact copy of ``emb``, so at ``r = t`` the second term vanishes and the
network is exactly the multi-step (instantaneous velocity) model it was initialised from.
This is how pretrained flow-matching backbones gain a target-time input (docs/METHOD.md §4).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from twinflow.networks.zero3 import copy_weights


def sinusoidal(t: Tensor, dim: int, scale: float = 1000.0, max_period: float = 10000.0) -> Tensor:
    """``(B,)`` times -> ``(B, dim)`` features ``[cos(w_k s t), sin(w_k s t)]``.

    Odd in ``t`` for the sine half, so ``t`` and ``-t`` (real vs twin trajectory) map to
    distinct features.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = scale * t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class TimeEmbedding(nn.Module):
    """``(B,)`` time -> ``(B, dim)`` via sinusoidal features and a two-layer MLP."""

    def __init__(self, dim: int, freq_dim: int = 128) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: Tensor) -> Tensor:
        return self.mlp(sinusoidal(t, self.freq_dim))


class TwoTimeEmbedding(nn.Module):
    """``(t, r)`` -> ``emb(t) + (t - r) * emb2(r)``, shape ``(B, dim)``."""

    def __init__(self, dim: int, freq_dim: int = 128) -> None:
        super().__init__()
        self.emb = TimeEmbedding(dim, freq_dim)
        # A fresh module given emb's weights, not a deep copy: under DeepSpeed's zero.Init a
        # deep copy duplicates partitioned parameters (DeepSpeed ids included) instead of
        # registering new ones. The forked random state leaves the stream where a copy
        # left it, so the rest of a network's initialisation is unchanged.
        cuda = [torch.cuda.current_device()] if torch.cuda.is_initialized() else []
        with torch.random.fork_rng(devices=cuda):
            self.emb2 = TimeEmbedding(dim, freq_dim)
        copy_weights(self.emb, self.emb2)

    def forward(self, t: Tensor, r: Tensor) -> Tensor:
        return self.emb(t) + (t - r).to(torch.float32)[:, None] * self.emb2(r)
