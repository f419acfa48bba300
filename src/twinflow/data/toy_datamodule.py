"""A 2-D Gaussian-mixture data module: a toy with a closed-form velocity field.

The mixture has ``modes`` equal components on a circle of ``radius`` with std ``sigma``;
``mixture`` exposes the exact :class:`GaussianMixtureVelocity` for comparisons.
"""

from __future__ import annotations

import math

import lightning as L
import torch
from torch.utils.data import DataLoader

from twinflow.data.batch import Batch
from twinflow.data.stream import resumable_loader
from twinflow.networks.analytic import GaussianMixtureVelocity


def ring_mixture(
    modes: int = 8, radius: float = 2.0, sigma: float = 0.15
) -> GaussianMixtureVelocity:
    angles = torch.arange(modes) * 2 * math.pi / modes
    means = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixtureVelocity(means, torch.full((modes,), sigma))


class GaussianMixtureDataModule(L.LightningDataModule):
    """``(B, 2)`` points from a ring of Gaussians (unconditional)."""

    def __init__(
        self,
        modes: int = 8,
        radius: float = 2.0,
        sigma: float = 0.15,
        size: int = 20_000,
        batch_size: int = 256,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"data.batch_size must be >= 1, got {batch_size}")
        if modes < 1 or size < batch_size:
            raise ValueError("data.modes must be >= 1 and data.size >= data.batch_size")
        self.mixture = ring_mixture(modes, radius, sigma)
        self.points = self.mixture.sample(size, torch.Generator().manual_seed(seed))
        val = self.mixture.sample(2_000, torch.Generator().manual_seed(seed + 1))
        self.val_points = val
        self.batch_size, self.seed = batch_size, seed

    def _batch(self, idx: torch.Tensor, g: torch.Generator) -> Batch:
        return Batch(x=self.points[idx])

    def train_dataloader(self) -> DataLoader:
        return resumable_loader(
            self.trainer, len(self.points), self.batch_size, self._batch, self.seed
        )

    def val_dataloader(self) -> DataLoader:
        batches = [Batch(x=self.val_points[i : i + 500]) for i in range(0, 2_000, 500)]
        return DataLoader(batches, batch_size=None)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()
