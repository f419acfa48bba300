"""A resumable, step-indexed stream of training batches.

Batch ``k`` depends only on ``(seed, k)``: epoch ``e = k // steps_per_epoch`` shuffles the
data with a generator seeded by ``(seed, e)`` and batch ``k`` takes its slice.  A run resumed
at global step ``k`` therefore sees exactly the batches an uninterrupted run would, which makes
resumption bit-exact on CPU.  Ranks take disjoint strided slices of each global batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, IterableDataset


class StepBatchStream(IterableDataset):
    """Yields ``make_batch(indices, generator)`` for steps ``start_step, start_step + 1, ...``.

    Args:
        size: number of examples.
        batch_size: global batch size (split across ``world_size`` ranks).
        make_batch: builds a batch from ``(B,)`` indices and a per-step generator (for any
            extra randomness, e.g. prompt templates).
        seed: base seed.
        start_step: first global step to produce.
        rank, world_size: this process's share of each global batch.
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        make_batch: Callable[[torch.Tensor, torch.Generator], Any],
        seed: int = 0,
        start_step: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size > size:
            raise ValueError(f"batch_size {batch_size} exceeds the data set size {size}")
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} is not divisible by world size {world_size}")
        self.size, self.batch_size = size, batch_size
        self.make_batch, self.seed, self.start_step = make_batch, seed, start_step
        self.rank, self.world_size = rank, world_size
        self.steps_per_epoch = size // batch_size

    def indices(self, step: int) -> torch.Tensor:
        epoch, pos = divmod(step, self.steps_per_epoch)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(self.size, generator=g)
        batch = perm[pos * self.batch_size : (pos + 1) * self.batch_size]
        return batch[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[Any]:
        # Subclasses (buckets.BucketBatchStream) change only ``indices``.
        step = self.start_step
        while True:
            g = torch.Generator().manual_seed(self.seed * 7_919 + step * 104_729 + self.rank)
            yield self.make_batch(self.indices(step), g)
            step += 1


def trainer_position(trainer: Any) -> tuple[int, int, int]:
    """``(first batch, rank, world size)`` of a (possibly resumed) fit; ``(0, 0, 1)`` alone.

    Batches are micro-batches: with gradient accumulation, ``global_step`` counts fewer.
    """
    if trainer is None:
        return 0, 0, 1
    start = trainer.global_step * trainer.accumulate_grad_batches
    return start, trainer.global_rank, trainer.world_size


def resumable_loader(
    trainer: Any,
    size: int,
    batch_size: int,
    make_batch: Callable[[torch.Tensor, torch.Generator], Any],
    seed: int = 0,
) -> DataLoader:
    """A loader over :class:`StepBatchStream` that starts at the trainer's global step.

    Lightning restores ``global_step`` from a checkpoint before it asks for the train
    loader, so a resumed run continues with exactly the next batch.
    """
    stream = StepBatchStream(size, batch_size, make_batch, seed, *trainer_position(trainer))
    return DataLoader(stream, batch_size=None)
