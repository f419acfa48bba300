"""A small MLP velocity network for low-dimensional toy data (e.g. the 2-D Gaussian mixture)."""

from __future__ import annotations

from torch import Tensor, nn

from twinflow.networks.contract import Conditioning
from twinflow.networks.time_embedding import TwoTimeEmbedding


class ToyMLP(nn.Module):
    """``F(x_t, t, r, cond)`` for ``(B, D)`` inputs; ``cond`` is optional ``(B, C)`` embeddings."""

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, cond_dim: int = 0) -> None:
        super().__init__()
        self.time = TwoTimeEmbedding(hidden, freq_dim=32)
        self.cond = nn.Linear(cond_dim, hidden) if cond_dim else None
        self.inp = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden)) for _ in range(depth)
        )
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, dim))

    def forward(
        self, x_t: Tensor, t: Tensor, r: Tensor, cond: Conditioning | None = None
    ) -> Tensor:
        h = self.inp(x_t) + self.time(t, r)
        if self.cond is not None and cond is not None:
            h = h + self.cond(cond.embeds.to(h.dtype))
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


__all__ = ["ToyMLP"]
