"""Every random number of one optimizer step, drawn once for the whole logical batch.

Gradient accumulation splits one optimizer step of ``k * B`` rows into ``k`` micro-batches of
``B`` rows.  Drawing the randomness of all ``k * B`` rows with the step's seed and giving micro
``m`` the rows ``[m B, (m + 1) B)`` makes accumulating ``k`` micro-batches exactly one step on
their concatenation (to round-off), and no two micro-batches share noise.

Draw order (kept so that ``k = 1`` reproduces earlier runs bit for bit): group times,
condition-dropout mask, noise ``z``, the adv rows' second noise ``z'``, then the rectify rows'
time and noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from twinflow.objective.partition import GROUPS, BatchPartition, PartitionedTimes
from twinflow.objective.time_sampler import TimeSampler


def _overlap(group: slice, rows: slice) -> slice:
    """Positions of ``group ∩ rows`` counted from ``group.start`` (an index into group draws)."""
    start, stop = max(group.start, rows.start), min(group.stop, rows.stop)
    return slice(start - group.start, max(start, stop) - group.start)


def rows_of(times: PartitionedTimes, rows: slice) -> PartitionedTimes:
    """The times of ``rows`` (a contiguous range of the logical batch), groups still in order."""
    counts = {}
    for g in GROUPS:
        part = _overlap(times.slice(g), rows)
        counts[g] = part.stop - part.start
    return PartitionedTimes(times.t[rows], times.r[rows], counts)


@dataclass
class StepDraws:
    """Random draws for ``N`` rows, ordered ``e2e | mul | any | adv``.

    Attributes:
        times: ``t``, ``r`` of shape ``(N,)`` and the group counts.
        z: ``(N, *shape)`` noise of the flow path.
        keep: ``(N,)`` bool, rows that keep their condition (``None``: no dropout).
        z_adv: ``(N_adv, *shape)`` noise of the twin path of the adv rows.
        rect_t: ``(N_e2e,)`` times of the rectify probe.
        rect_eps: ``(N_e2e, *shape)`` noise of the rectify probe.
        logical_e2e: e2e rows of the whole logical batch (the rectify mean's denominator).
    """

    times: PartitionedTimes
    z: Tensor
    keep: Tensor | None
    z_adv: Tensor | None
    rect_t: Tensor | None
    rect_eps: Tensor | None
    logical_e2e: int

    @classmethod
    def draw(
        cls,
        n: int,
        shape: tuple[int, ...],
        partition: BatchPartition,
        time_sampler: TimeSampler,
        dropout: bool,
        drop_prob: float,
        rectify: bool,
        device: torch.device,
        dtype: torch.dtype,
        adv_time_sampler: TimeSampler | None = None,
    ) -> StepDraws:
        times = partition.sample(n, time_sampler, device, adv_time_sampler)
        keep = torch.rand(n, device=device) >= drop_prob if dropout else None
        z = torch.randn((n, *shape), device=device, dtype=dtype)
        n_adv, n_e2e = times.counts["adv"], times.counts["e2e"]
        z_adv = torch.randn((n_adv, *shape), device=device, dtype=dtype) if n_adv else None
        rect_t = rect_eps = None
        if rectify and n_e2e:
            rect_t = torch.rand(n_e2e, device=device)
            rect_eps = torch.randn((n_e2e, *shape), device=device, dtype=dtype)
        return cls(times, z, keep, z_adv, rect_t, rect_eps, n_e2e)

    def rows(self, rows: slice) -> StepDraws:
        """The draws of the logical rows ``rows`` (one micro-batch)."""
        adv = _overlap(self.times.slice("adv"), rows)
        e2e = _overlap(self.times.slice("e2e"), rows)
        return StepDraws(
            rows_of(self.times, rows),
            self.z[rows],
            None if self.keep is None else self.keep[rows],
            None if self.z_adv is None else self.z_adv[adv],
            None if self.rect_t is None else self.rect_t[e2e],
            None if self.rect_eps is None else self.rect_eps[e2e],
            self.logical_e2e,
        )


__all__ = ["StepDraws", "rows_of"]
