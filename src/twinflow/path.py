"""The linear transport path and the estimates one prediction gives (docs/METHOD.md §1).

``x_t = t * z + (1 - t) * x`` with ``t = 1`` noise and ``t = 0`` data; the true velocity is
``v = z - x``.  Given an average velocity ``F`` at time ``t``:

* data estimate ``x_hat = x_t - t * F``; noise estimate ``z_hat = x_t + (1 - t) * F``;
* jump to any ``s``: ``x_s = (1 - s) * x_hat + s * z_hat`` (``= x_t - (t - s) * F``);
* score ``s(x_t) = -(x_t + (1 - t) * F) / t`` (instantaneous ``F``; guarded at ``t = 0``).

Twin (negative) times use ``|t|`` in all of these.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from twinflow.networks.contract import expand_time


def interpolate(x: Tensor, z: Tensor, t: Tensor) -> Tensor:
    """``(B, *shape)`` point ``x_t = |t| z + (1 - |t|) x`` for ``(B,)`` times."""
    tt = expand_time(t.abs(), x)
    return tt * z + (1 - tt) * x


@dataclass
class Estimates:
    """``x_hat`` (data) and ``z_hat`` (noise), each ``(B, *shape)``."""

    x_hat: Tensor
    z_hat: Tensor

    def at(self, s: Tensor | float) -> Tensor:
        """``x_s = (1 - s) x_hat + s z_hat``."""
        if isinstance(s, Tensor):
            s = expand_time(s, self.x_hat)
        return (1 - s) * self.x_hat + s * self.z_hat


def estimates(x_t: Tensor, t: Tensor, velocity: Tensor) -> Estimates:
    """Data and noise estimates from ``F`` at time ``|t|``."""
    tt = expand_time(t.abs(), x_t)
    return Estimates(x_t - tt * velocity, x_t + (1 - tt) * velocity)


def score(x_t: Tensor, t: Tensor, velocity: Tensor, min_t: float = 1e-5) -> Tensor:
    """``s(x_t) = -(x_t + (1 - t) F) / t``, with ``t`` clamped away from zero."""
    tt = expand_time(t.abs().clamp_min(min_t), x_t)
    return -(x_t + (1 - tt) * velocity) / tt
