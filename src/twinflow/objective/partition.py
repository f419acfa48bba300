"""Partition of a training batch into the four TwinFlow groups (docs/METHOD.md §2).

* ``e2e``: ``t = 1, r = 0`` -- one-step generation; gets the L_base target and L_rectify.
* ``mul``: ``r = t * (1 - mul_window * u)`` -- (near-)instantaneous velocity.
* ``any``: ``r ~ U(0, t)`` -- any-step consistency.
* ``adv``: inputs replaced by one-step fakes at negated time ``-t`` (L_adv).

Shares are relative weights; counts use largest-remainder rounding so they sum to ``B``.
Flow matching is ``mul`` only with ``mul_window = 0``; RCGM has ``adv = 0`` (and no rectify).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from twinflow.objective.time_sampler import TimeSampler

GROUPS = ("e2e", "mul", "any", "adv")


@dataclass
class PartitionedTimes:
    """Times for one batch, rows ordered ``e2e | mul | any | adv``.

    Attributes:
        t: ``(B,)`` current times (positive; the adv rows are negated by the objective).
        r: ``(B,)`` target times, ``0 <= r <= t``.
        counts: rows per group, in ``GROUPS`` order.
    """

    t: Tensor
    r: Tensor
    counts: dict[str, int]

    def slice(self, group: str) -> slice:
        start = 0
        for name in GROUPS:
            if name == group:
                return slice(start, start + self.counts[name])
            start += self.counts[name]
        raise KeyError(f"unknown group {group!r}; groups are {GROUPS}")


@dataclass(frozen=True)
class BatchPartition:
    """Split ``B`` rows into groups by ``shares`` and draw ``(t, r)`` for each."""

    e2e: float = 0.25
    mul: float = 0.25
    any: float = 0.25
    adv: float = 0.25
    mul_window: float = 0.05

    def __post_init__(self) -> None:
        shares = self.shares
        if any(v < 0 for v in shares.values()) or sum(shares.values()) <= 0:
            raise ValueError(f"BatchPartition shares must be >= 0 and not all zero, got {shares}")
        if not 0 <= self.mul_window <= 1:
            raise ValueError(f"BatchPartition.mul_window must be in [0, 1], got {self.mul_window}")

    @property
    def shares(self) -> dict[str, float]:
        return {g: float(getattr(self, g)) for g in GROUPS}

    def counts(self, batch: int) -> dict[str, int]:
        shares = self.shares
        total = sum(shares.values())
        exact = {g: batch * s / total for g, s in shares.items()}
        counts = {g: int(v) for g, v in exact.items()}
        by_remainder = sorted(GROUPS, key=lambda g: exact[g] - counts[g], reverse=True)
        for g in by_remainder[: batch - sum(counts.values())]:
            counts[g] += 1
        return counts

    def sample(
        self,
        batch: int,
        sampler: TimeSampler,
        device: torch.device | str,
        adv_sampler: TimeSampler | None = None,
    ) -> PartitionedTimes:
        """Times of ``batch`` rows; the ``adv`` rows' ``t`` from ``adv_sampler`` when given."""
        counts = self.counts(batch)
        ts, rs = [], []
        n = counts["e2e"]
        ts.append(torch.ones(n, device=device))
        rs.append(torch.zeros(n, device=device))
        t = sampler(counts["mul"], device)
        ts.append(t)
        rs.append(t * (1 - self.mul_window * torch.rand_like(t)))
        t = sampler(counts["any"], device)
        ts.append(t)
        rs.append(t * torch.rand_like(t))
        t = (adv_sampler or sampler)(counts["adv"], device)
        ts.append(t)
        rs.append(t.clone())
        return PartitionedTimes(torch.cat(ts), torch.cat(rs), counts)
