"""Aspect-ratio buckets and a resumable stream of single-bucket batches.

Each image goes to the bucket ``(height, width)`` whose aspect ratio is closest to its own
(in log space, so 2:1 and 1:2 are equally far from 1:1); it is then resized to cover the
bucket and center-cropped.  Every batch holds one bucket, so latents stack.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader

from twinflow.data.stream import StepBatchStream, trainer_position

Bucket = tuple[int, int]


def check_buckets(buckets: Sequence[Sequence[int]], multiple: int = 1) -> list[Bucket]:
    """``[[h, w], ...]`` as tuples, checked: positive, distinct, divisible by ``multiple``."""
    out = []
    for b in buckets:
        if len(b) != 2 or min(b) < 1:
            raise ValueError(f"bucket {list(b)} is not [height, width] with positive sides")
        if b[0] % multiple or b[1] % multiple:
            raise ValueError(f"bucket {list(b)}: height and width must be divisible by "
                             f"{multiple} (the codec's downsampling times the patch size)")
        out.append((int(b[0]), int(b[1])))
    if not out or len(set(out)) != len(out):
        raise ValueError(f"buckets {[list(b) for b in buckets]}: give one or more distinct sizes")
    return out


def nearest_bucket(width: int, height: int, buckets: Sequence[Bucket]) -> Bucket:
    """The bucket whose ``h / w`` is closest to ``height / width`` (ties: the first)."""
    ratio = math.log(height / width)
    return min(buckets, key=lambda b: abs(math.log(b[0] / b[1]) - ratio))


class BucketBatchStream(StepBatchStream):
    """Yields ``make_batch(indices, generator)`` for global steps ``start_step, ...``.

    Epoch ``e`` shuffles each bucket's items with a generator seeded by ``(seed, e)``, cuts
    them into full batches of ``batch_size`` (the remainder waits for the next epoch's
    shuffle), and shuffles the batch order; step ``k`` takes batch ``k mod n`` of epoch
    ``k // n``.  Batch ``k`` therefore depends only on ``(seed, k)``: a resumed run sees the
    batches an uninterrupted one would.  Rank ``i`` of ``world_size`` takes rows
    ``i, i + world_size, ...`` of each global batch.

    Args:
        groups: per bucket, the ``(n_b,)`` item indices.

    Iteration (per-step generators, rank slices) is :class:`StepBatchStream`'s; only the
    step -> indices map differs.
    """

    def __init__(
        self,
        groups: Sequence[torch.Tensor],
        batch_size: int,
        make_batch: Callable[[torch.Tensor, torch.Generator], Any],
        seed: int = 0,
        start_step: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        # Not the parent's __init__: it sizes one flat data set; the fields __iter__ reads
        # (start_step, seed, rank, world_size, make_batch) are set here.
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} is not divisible by world size {world_size}")
        self.groups = [g for g in groups if len(g)]
        self.steps_per_epoch = sum(len(g) // batch_size for g in self.groups)
        if self.steps_per_epoch == 0:
            sizes = [len(g) for g in self.groups]
            raise ValueError(f"batch_size {batch_size} exceeds every bucket (sizes {sizes}): "
                             "lower data.batch_size or merge buckets")
        self.batch_size, self.make_batch = batch_size, make_batch
        self.seed, self.start_step = seed, start_step
        self.rank, self.world_size = rank, world_size
        self._epoch: tuple[int, list[torch.Tensor]] | None = None

    def epoch_batches(self, epoch: int) -> list[torch.Tensor]:
        if self._epoch is not None and self._epoch[0] == epoch:
            return self._epoch[1]
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        batches = []
        for group in self.groups:
            perm = group[torch.randperm(len(group), generator=g)]
            full = len(perm) // self.batch_size * self.batch_size
            if full:  # split() of an empty tensor would give one empty batch
                batches.extend(perm[:full].split(self.batch_size))
        order = torch.randperm(len(batches), generator=g).tolist()
        self._epoch = (epoch, [batches[i] for i in order])
        return self._epoch[1]

    def indices(self, step: int) -> torch.Tensor:
        epoch, pos = divmod(step, self.steps_per_epoch)
        return self.epoch_batches(epoch)[pos][self.rank :: self.world_size]


def bucket_loader(
    trainer: Any,
    groups: Sequence[torch.Tensor],
    batch_size: int,
    make_batch: Callable[[torch.Tensor, torch.Generator], Any],
    seed: int = 0,
) -> DataLoader:
    """A loader over :class:`BucketBatchStream` starting at the trainer's global step."""
    stream = BucketBatchStream(groups, batch_size, make_batch, seed, *trainer_position(trainer))
    return DataLoader(stream, batch_size=None)
