"""L_base target: the N-th order any-step consistency target of RCGM (docs/METHOD.md §2).

Given the prediction ``F_theta = F(x_t, t, r)`` and the (possibly guidance-enhanced) target
velocity ``v``, with step ``D`` and a no-grad network ``F_ng``:

1. ``x' = x_t - D * v`` and ``t' = max(t - D, r)``;
2. integrate ``t' -> r`` in ``N`` equal sub-steps ``t_i``, each jumping with
   ``F_ng(x_i, t_i, t_{i+1})``, and sum the displacement ``S = sum_i F_i * (t_i - t_{i+1})``;
3. ``R = ((t - r) * F_theta - S) / D - v`` when ``t - r >= D``, else ``R = F_theta - v``;
4. ``F_target = sg(F_theta) - clamp(R, -c, c)``.

For the exact average velocity ``F*`` (and ``v`` the exact instantaneous velocity) the
residual is ``O(D)``: ``(t - r) F*(x_t) = x_t - x_r`` and ``S ~ x' - x_r``.
``order = 0`` is plain flow matching: the target is ``v``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from twinflow.networks.contract import Conditioning, VelocityNetwork, expand_time, index_cond


@dataclass(frozen=True)
class RCGMTarget:
    """``F_target`` of shape ``(B, *shape)`` for L_base."""

    order: int = 2
    delta: float = 0.01
    clamp: float = 1.0

    def __post_init__(self) -> None:
        if self.order < 0:
            raise ValueError(f"RCGMTarget.order must be >= 0, got {self.order}")
        if not 0 < self.delta < 1:
            raise ValueError(f"RCGMTarget.delta must be in (0, 1), got {self.delta}")

    @torch.no_grad()
    def displacement(
        self, net: VelocityNetwork, x: Tensor, t: Tensor, r: Tensor, cond: Conditioning | None
    ) -> Tensor:
        """``S = sum_i F(x_i, t_i, t_{i+1}) (t_i - t_{i+1})`` over ``order`` steps ``t -> r``."""
        total = torch.zeros_like(x)
        for i in range(self.order):
            t_i = t + (r - t) * (i / self.order)
            t_next = t + (r - t) * ((i + 1) / self.order)
            step = expand_time(t_i - t_next, x) * net(x, t_i, t_next, cond)
            x = x - step
            total = total + step
        return total

    @torch.no_grad()
    def __call__(
        self,
        net: VelocityNetwork,
        x_t: Tensor,
        t: Tensor,
        r: Tensor,
        v: Tensor,
        f_theta: Tensor,
        cond: Conditioning | None,
    ) -> Tensor:
        f_theta = f_theta.detach()
        if self.order == 0:
            return v
        residual = f_theta - v
        # Only rows with t - r >= D need the integration; the rest keep the local residual.
        long = (t - r) >= self.delta
        if long.any():
            idx = long.nonzero(as_tuple=True)[0]
            x_l, t_l, r_l, v_l = x_t[idx], t[idx], r[idx], v[idx]
            x_next = x_l - self.delta * v_l
            t_next = torch.maximum(t_l - self.delta, r_l)
            s = self.displacement(net, x_next, t_next, r_l, index_cond(cond, idx))
            gap = expand_time(t_l - r_l, x_l)
            residual[idx] = (gap * f_theta[idx] - s) / self.delta - v_l
        return f_theta - residual.clamp(-self.clamp, self.clamp)
