"""One sampler for few-, any- and multi-step generation (docs/METHOD.md §3).

At each grid step ``t -> t_next`` the network predicts ``F(x, t, r)`` with target time
``r = 0`` (``few``), ``r = t_next`` (``any``) or ``r = t`` (``mul``), giving estimates
``x_hat = x - t F`` and ``z_hat = x + (1 - t) F``.  Then

``x_next = (1 - t_next) x_hat + t_next (sqrt(1 - s) z_hat + sqrt(s) eps)``

with stochastic ratio ``s`` (fresh noise ``eps``).  ``order = 2`` adds a Heun correction
(``few`` and ``mul``): ``F`` is replaced by the mean of ``F`` at ``(x, t)`` and at the
deterministic proposal ``(x_det, t_next)`` (also on the last step: evaluating at ``t = 0``
involves no division).  Exactly one network call per NFE: ``nfe = steps`` (order 1) or
``2 * steps`` (order 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from twinflow.networks.contract import Conditioning, VelocityNetwork
from twinflow.path import estimates
from twinflow.sampling.time_grid import TimeGrid

Style = Literal["few", "any", "mul"]


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

    @torch.no_grad()
    def sample(
        self,
        net: VelocityNetwork,
        noise: Tensor,
        cond: Conditioning | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Integrate from ``noise`` (``(B, *shape)``, the state at ``t = grid[0]``) to data."""
        grid = self.grid(self.steps).tolist()
        x = noise
        batch = x.shape[0]

        def call(x_in: Tensor, t: float, r: float) -> Tensor:
            tt = torch.full((batch,), t, device=x.device, dtype=torch.float32)
            rr = torch.full((batch,), r, device=x.device, dtype=torch.float32)
            return net(x_in, tt, rr, cond).to(x.dtype)

        for k in range(self.steps):
            t, t_next = grid[k], grid[k + 1]
            tk = torch.full((batch,), t, device=x.device)
            velocity = call(x, t, self.target_time(t, t_next))
            if self.order == 2:
                proposal = estimates(x, tk, velocity).at(t_next)
                r2 = 0.0 if self.style == "few" else t_next
                velocity = 0.5 * (velocity + call(proposal, t_next, r2))
            est = estimates(x, tk, velocity)
            z_part = est.z_hat
            if self.stochastic_ratio > 0 and t_next > 0:
                where = generator.device if generator is not None else x.device
                eps = torch.randn(x.shape, generator=generator, device=where, dtype=x.dtype)
                eps = eps.to(x.device)
                z_part = (
                    1 - self.stochastic_ratio
                ) ** 0.5 * est.z_hat + self.stochastic_ratio**0.5 * eps
            x = (1 - t_next) * est.x_hat + t_next * z_part
        return x
