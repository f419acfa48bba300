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

Only rows with ``t - r >= D`` need the integration.  :meth:`RCGMTarget.plan` selects them
(by index, or all rows masked: see ``joint.py``); :class:`RCGMPlan` hands out each sub-step's
network input, so the objective can join the first one with another no-grad call, and
assembles the target.  Steps 1-2 do not need ``F_theta``: they may run before or after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from twinflow.networks.contract import Conditioning, VelocityNetwork, expand_time
from twinflow.objective.joint import NetInput, Rows, joint_call, use_index


@dataclass
class RCGMPlan:
    """Integration state of the selected rows (``n`` of ``B``; ``n = B`` when masked).

    Attributes:
        rows: the long rows ``t - r >= D``.
        t, r, v: ``(n,)``, ``(n,)``, ``(n, *shape)`` of the selected rows.
        x: ``(n, *shape)`` the current sub-step state ``x_i``.
        grid: ``N + 1`` times ``(n,)`` from ``t'`` to ``r``.
        total: ``(n, *shape)`` the displacement ``S`` so far.
    """

    rows: Rows
    t: Tensor
    r: Tensor
    v: Tensor
    x: Tensor
    grid: list[Tensor]
    cond: Conditioning | None
    total: Tensor
    delta: float
    clamp: float

    @property
    def order(self) -> int:
        return len(self.grid) - 1

    def sub_step(self, i: int) -> NetInput:
        """Input of sub-step ``i``: ``F_ng(x_i, t_i, t_{i+1})``."""
        return NetInput(self.x, self.grid[i], self.grid[i + 1], self.cond)

    def advance(self, i: int, out: Tensor) -> None:
        """Jump ``x_i`` with sub-step ``i``'s output ``out`` ``(n, *shape)``."""
        step = expand_time(self.grid[i] - self.grid[i + 1], self.x) * out
        self.x = self.x - step
        self.total = self.total + step

    def target(self, f_theta: Tensor, v: Tensor) -> Tensor:
        """``F_target`` ``(B, *shape)`` from ``F_theta`` and ``v`` of all ``B`` rows."""
        f_theta = f_theta.detach()
        gap = expand_time(self.t - self.r, self.total)
        long = (gap * self.rows.take(f_theta) - self.total) / self.delta - self.v
        residual = self.rows.put(f_theta - v, long)
        return f_theta - residual.clamp(-self.clamp, self.clamp)


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

    def plan(
        self,
        x_t: Tensor,
        t: Tensor,
        r: Tensor,
        v: Tensor,
        cond: Conditioning | None,
        index: bool,
    ) -> RCGMPlan | None:
        """Steps 1-2 set up for ``(B, *shape)`` rows; ``None`` for ``order = 0``."""
        if self.order == 0:
            return None
        rows = Rows.of((t - r) >= self.delta, index)
        t_l, r_l, v_l = rows.take(t), rows.take(r), rows.take(v)
        x_next = rows.take(x_t) - self.delta * v_l
        t_next = torch.maximum(t_l - self.delta, r_l)
        grid = [t_next + (r_l - t_next) * (i / self.order) for i in range(self.order + 1)]
        return RCGMPlan(rows, t_l, r_l, v_l, x_next, grid, rows.take_cond(cond),
                        torch.zeros_like(x_next), self.delta, self.clamp)

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
        row_select: str = "auto",
    ) -> Tensor:
        plan = self.plan(x_t, t, r, v, cond, use_index(row_select, x_t.device))
        if plan is None:
            return v
        for i in range(plan.order):
            plan.advance(i, joint_call(net, [plan.sub_step(i)])[0])
        return plan.target(f_theta, v)
