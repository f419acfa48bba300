"""Sampling time grids from 1 (noise) to 0 (data) (docs/METHOD.md §3).

``steps`` points ``u_k = k / (steps - 1)`` (``u = 0`` for one step) are optionally warped by
the Kumaraswamy transform ``w(u) = (1 - (1 - u^a)^b)^c`` and mapped to
``t_k = (1 - g_start) - (1 - g_start - g_end) * w(u_k)``; a final ``0`` is appended.
So with gaps ``(0.001, 0.7)``: 1 step visits ``0.999, 0`` and 2 steps ``0.999, 0.7, 0``.
With ``g_end = 0`` the grid is ``steps + 1`` points ending at 0 (no repeated zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def kumaraswamy(u: Tensor, a: float, b: float, c: float) -> Tensor:
    """``(1 - (1 - u^a)^b)^c``, a monotone map of ``[0, 1]`` onto itself."""
    return (1 - (1 - u.pow(a)).pow(b)).pow(c)


@dataclass(frozen=True)
class TimeGrid:
    """``steps + 1`` decreasing times from ``1 - gaps[0]`` to 0."""

    gaps: tuple[float, float] = (0.0, 0.0)
    warp: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        g0, g1 = self.gaps
        if g0 < 0 or g1 < 0 or g0 + g1 >= 1:
            raise ValueError(f"TimeGrid.gaps must be >= 0 with sum < 1, got {self.gaps}")
        if self.warp is not None and min(self.warp) <= 0:
            raise ValueError(f"TimeGrid.warp (a, b, c) must be positive, got {self.warp}")

    def __call__(self, steps: int) -> Tensor:
        if steps < 1:
            raise ValueError(f"need at least one sampling step, got {steps}")
        g0, g1 = self.gaps
        points = steps if g1 > 0 else steps + 1
        u = (
            torch.linspace(0, 1, points, dtype=torch.float64)
            if points > 1
            else torch.zeros(1, dtype=torch.float64)
        )
        if self.warp is not None:
            u = kumaraswamy(u, *self.warp)
        t = (1 - g0) - (1 - g0 - g1) * u
        if g1 > 0:
            t = torch.cat([t, torch.zeros(1, dtype=t.dtype)])
        else:
            t[-1] = 0.0
        return t.float()
