"""The training batch every data module yields."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from twinflow.networks.contract import Conditioning


@dataclass
class Batch:
    """One batch.

    Attributes:
        x: ``(B, *shape)`` data in the network's space (pixels in [-1, 1], or latents).
        cond: per-row text condition, or ``None`` for unconditional data.
        null_cond: the empty-prompt condition (batch 1 or B) that guidance and condition
            dropout use, or ``None``.
        labels: ``(B,)`` class labels where the data have them (for judging only).
    """

    x: Tensor
    cond: Conditioning | None = None
    null_cond: Conditioning | None = None
    labels: Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]
