"""Sampling of the current time ``t`` in ``(0, 1]`` (``t = 1`` is pure noise).

``uniform``: ``t ~ U(eps, 1)``.  ``beta``: ``t ~ Beta(a, b)`` with ``(a, b) = time_dist_ctrl``
(``(1, 1)`` is uniform; ``a > b`` puts more mass near noise).  ``logit_normal``:
``t = sigmoid(m + s * n)``, ``n ~ N(0, 1)`` with ``(m, s) = time_dist_ctrl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor


@dataclass(frozen=True)
class TimeSampler:
    """Draw ``(n,)`` times in ``[eps, 1]``."""

    kind: Literal["uniform", "beta", "logit_normal"] = "uniform"
    time_dist_ctrl: tuple[float, float] = (1.0, 1.0)
    eps: float = 1e-4

    def __post_init__(self) -> None:
        if self.kind not in ("uniform", "beta", "logit_normal"):
            raise ValueError(
                f"TimeSampler.kind={self.kind!r}: use 'uniform', 'beta' or 'logit_normal'"
            )
        a, b = self.time_dist_ctrl
        if self.kind == "beta" and (a <= 0 or b <= 0):
            raise ValueError(f"TimeSampler beta needs positive time_dist_ctrl, got {(a, b)}")
        if self.kind == "logit_normal" and b <= 0:
            raise ValueError(f"TimeSampler logit_normal needs a positive scale, got {b}")

    def __call__(self, n: int, device: torch.device | str = "cpu") -> Tensor:
        a, b = self.time_dist_ctrl
        if self.kind == "uniform":
            t = torch.rand(n, device=device)
        elif self.kind == "beta":
            t = torch.distributions.Beta(
                torch.tensor(a, device=device), torch.tensor(b, device=device)
            ).sample((n,))
        else:
            t = torch.sigmoid(a + b * torch.randn(n, device=device))
        return t.clamp(self.eps, 1.0)
