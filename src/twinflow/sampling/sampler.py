"""One sampler for few-, any- and multi-step generation (docs/METHOD.md §3).

At each grid step ``t -> t_next`` the network predicts ``F(x, t, r)`` with target time
``r = 0`` (``few``), ``r = t_next`` (``any``) or ``r = t`` (``mul``), giving estimates
``x_hat = x - t F`` and ``z_hat = x + (1 - t) F``.  Then

``x_next = (1 - t_next) x_hat + t_next (sqrt(1 - s) z_hat + sqrt(s) eps)``

with stochastic ratio ``s`` (fresh noise ``eps``).  ``order = 2`` adds a Heun correction
(``few`` and ``mul``): ``F`` is replaced by the mean of ``F`` at ``(x, t)`` and at the
deterministic proposal ``(x_det, t_next)`` (also on the last step: evaluating at ``t = 0``
involves no division).  Exactly one network call per NFE: ``nfe = steps`` (order 1) or
``2 * steps`` (order 2).  The per-step time tensors are built once per call
(:meth:`AnyStepSampler.schedule`): the loop allocates no times and makes no host sync, so one
NFE costs one network call plus a few elementwise ops.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from twinflow.networks.contract import Conditioning, VelocityNetwork
from twinflow.path import estimates
from twinflow.sampling.time_grid import TimeGrid

Style = Literal["few", "any", "mul"]


@functools.lru_cache(maxsize=256)
def _time_table(grid: TimeGrid, steps: int, style: str) -> tuple[tuple[float, ...], ...]:
    """Per step ``(t, r, t_next, r_2)`` as floats: the grid and the style's target times."""
    g = grid(steps).tolist()
    return tuple(
        (g[k], {"few": 0.0, "any": g[k + 1], "mul": g[k]}[style], g[k + 1],
         0.0 if style == "few" else g[k + 1])
        for k in range(steps)
    )


@dataclass(frozen=True)
class AnyStepSampler:
    """``sample(net, noise, cond) -> (B, *shape)`` after ``steps`` grid steps."""

    style: Style = "any"
    steps: int = 1
    stochastic_ratio: float = 0.0
    grid: TimeGrid = field(default_factory=TimeGrid)
    order: int = 1

    def __post_init__(self) -> None:
        if self.style not in ("few", "any", "mul"):
            raise ValueError(f"AnyStepSampler.style={self.style!r}: use 'few', 'any' or 'mul'")
        if self.steps < 1:
            raise ValueError(f"AnyStepSampler.steps must be >= 1, got {self.steps}")
        if not 0 <= self.stochastic_ratio <= 1:
            raise ValueError(f"stochastic_ratio must be in [0, 1], got {self.stochastic_ratio}")
        if self.order not in (1, 2):
            raise ValueError(f"AnyStepSampler.order must be 1 or 2, got {self.order}")
        if self.order == 2 and self.style == "any":
            raise ValueError("order=2 (Heun) is defined for the 'few' and 'mul' styles, not 'any'")

    @property
    def nfe(self) -> int:
        return self.steps * self.order

    def target_time(self, t: float, t_next: float) -> float:
        return {"few": 0.0, "any": t_next, "mul": t}[self.style]

    def schedule(self, batch: int, device: torch.device | str) -> list[tuple[Tensor, ...]]:
        """Per step ``(t, r, t_next, r_2)`` as ``(batch,)`` float32 tensors (expanded views).

        ``r_2`` is the Heun call's target time (``order = 2``).  The time table is computed
        once per setting (cached) and reaches ``device`` in one transfer; the sampling loop
        then allocates no times and never syncs.
        """
        rows = _time_table(self.grid, self.steps, self.style)
        table = torch.tensor(rows, dtype=torch.float32).to(device)  # (steps, 4)
        return [tuple(v.expand(batch) for v in row.unbind(0)) for row in table.unbind(0)]

    @torch.no_grad()
    def sample(
        self,
        net: VelocityNetwork,
        noise: Tensor,
        cond: Conditioning | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Integrate from ``noise`` (``(B, *shape)``, the state at ``t = grid[0]``) to data."""
        x = noise
        times = _time_table(self.grid, self.steps, self.style)
        s = self.stochastic_ratio
        for k, (tt, rr, tn, r2) in enumerate(self.schedule(x.shape[0], x.device)):
            t_next = times[k][2]
            velocity = net(x, tt, rr, cond).to(x.dtype)
            if self.order == 2:
                proposal = estimates(x, tt, velocity).at(t_next)
                velocity = 0.5 * (velocity + net(proposal, tn, r2, cond).to(x.dtype))
            est = estimates(x, tt, velocity)
            z_part = est.z_hat
            if s > 0 and t_next > 0:
                where = generator.device if generator is not None else x.device
                eps = torch.randn(x.shape, generator=generator, device=where, dtype=x.dtype)
                z_part = (1 - s) ** 0.5 * est.z_hat + s**0.5 * eps.to(x.device)
            x = (1 - t_next) * est.x_hat + t_next * z_part
        return x
