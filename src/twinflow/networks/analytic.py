"""Closed-form velocity fields for Gaussian data (docs/METHOD.md §5): exact fixtures for tests.

For ``x ~ N(mu, sigma^2 I)`` and ``x_t = t z + (1 - t) x``, ``s_t^2 = t^2 + (1 - t)^2 sigma^2``:

* ``v*(x, t) = -mu + (t - (1 - t) sigma^2) / s_t^2 * (x - (1 - t) mu)``;
* ``Phi(x, t, r) = (1 - r) mu + (s_r / s_t) (x - (1 - t) mu)`` (the flow map);
* ``F*(x, t, r) = (x - Phi(x, t, r)) / (t - r)``, equal to ``v*`` at ``r = t``.

A mixture ``sum_k pi_k N(mu_k, sigma_k^2 I)`` has ``v*(x, t) = sum_k p(k | x_t) v*_k(x, t)``.
Negative (twin) times are answered with ``|t|``: for the exact field the fake distribution
equals the real one, so both trajectories coincide.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from twinflow.networks.contract import Conditioning, expand_time


class GaussianFlowField(nn.Module):
    """Exact ``F*(x, t, r)`` for ``N(mu, sigma^2 I)`` data; ``mu`` has the sample shape."""

    def __init__(self, mu: Tensor, sigma: float) -> None:
        super().__init__()
        self.register_buffer("mu", mu.clone().float())
        self.sigma = float(sigma)

    def std(self, t: Tensor) -> Tensor:
        return (t**2 + (1 - t) ** 2 * self.sigma**2).sqrt()

    def instantaneous(self, x: Tensor, t: Tensor) -> Tensor:
        tt = expand_time(t.abs(), x)
        centred = x - (1 - tt) * self.mu
        return -self.mu + (tt - (1 - tt) * self.sigma**2) / self.std(tt) ** 2 * centred

    def flow_map(self, x: Tensor, t: Tensor, r: Tensor) -> Tensor:
        tt, rr = expand_time(t.abs(), x), expand_time(r.abs(), x)
        return (1 - rr) * self.mu + self.std(rr) / self.std(tt) * (x - (1 - tt) * self.mu)

    def forward(
        self, x_t: Tensor, t: Tensor, r: Tensor, cond: Conditioning | None = None
    ) -> Tensor:
        gap = expand_time(t.abs() - r.abs(), x_t)
        close = gap.abs() < 1e-6
        safe_gap = torch.where(close, torch.ones_like(gap), gap)
        average = (x_t - self.flow_map(x_t, t, r)) / safe_gap
        return torch.where(close, self.instantaneous(x_t, t), average)


class GaussianMixtureVelocity(nn.Module):
    """Exact instantaneous ``v*(x, t)`` for an isotropic Gaussian mixture in ``R^D``.

    Args:
        means: ``(K, D)`` component means.
        sigmas: ``(K,)`` component standard deviations.
        weights: ``(K,)`` mixture weights (normalised here).
    """

    def __init__(self, means: Tensor, sigmas: Tensor, weights: Tensor | None = None) -> None:
        super().__init__()
        k = means.shape[0]
        weights = torch.ones(k) if weights is None else weights
        self.register_buffer("means", means.float())
        self.register_buffer("sigmas", sigmas.float())
        self.register_buffer("log_weights", (weights / weights.sum()).float().log())

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``(n, D)`` samples from the mixture."""
        k = torch.multinomial(self.log_weights.exp(), n, replacement=True, generator=generator)
        noise = torch.randn(n, self.means.shape[1], generator=generator)
        return self.means[k] + self.sigmas[k, None] * noise

    def forward(
        self, x_t: Tensor, t: Tensor, r: Tensor | None = None, cond: Conditioning | None = None
    ) -> Tensor:
        """``(B, D)`` instantaneous velocity at ``(x_t, |t|)``; ``r`` is ignored."""
        tt = t.abs().float()[:, None, None]  # (B, 1, 1)
        mean_t = (1 - tt) * self.means[None]  # (B, K, D)
        var_t = tt**2 + (1 - tt) ** 2 * self.sigmas[None, :, None] ** 2  # (B, K, 1)
        diff = x_t[:, None, :] - mean_t
        d = x_t.shape[1]
        log_p = (
            self.log_weights[None]
            - 0.5 * (diff**2).sum(-1) / var_t[..., 0]
            - 0.5 * d * var_t[..., 0].log()
        )
        post = log_p.softmax(dim=1)[..., None]  # (B, K, 1)
        v_k = -self.means[None] + (tt - (1 - tt) * self.sigmas[None, :, None] ** 2) / var_t * diff
        return (post * v_k).sum(dim=1)
