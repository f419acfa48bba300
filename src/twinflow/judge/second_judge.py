"""The held-out second judge: another architecture, seed and split than the tuned judge.

The recipe is tuned on the first judge's FD (``classifier.py``), so that FD can be fitted
rather than earned.  The second judge is trained independently and never used for tuning:

* architecture: strided 5x5 convolutions with GELU and a 64-d feature layer (the first judge
  has 3x3 convolutions, max pooling, ReLU and 128-d features);
* seed 1 (the first judge: 0), 16 epochs, learning rate 3e-3 (the first: 12, 2e-3);
* split: a seeded 320 of the 400 training digits of each digit (the first judge: all 400).

Like the first judge it never sees the 1,000 held-out reference digits.  Its held-out
accuracy is 0.970 (the first judge: 0.975).  Weights are cached as safetensors, keyed by
data and recipe.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor, nn

from twinflow.data.digits import DigitImages, load_mnist5k
from twinflow.judge.classifier import cached_model, fit_classifier

RECIPE_VERSION = "strided-gelu-v1"
SEED = 1
PER_DIGIT = 320


class SecondJudgeNet(nn.Module):
    """``(N, 1, 28, 28)`` in ``[-1, 1]`` -> logits ``(N, 10)``; ``features`` gives ``(N, 64)``."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 24, 5, stride=2, padding=2),  # 14x14
            nn.GELU(),
            nn.Conv2d(24, 48, 5, stride=2, padding=2),  # 7x7
            nn.GELU(),
            nn.Conv2d(48, 48, 3, padding=1),
            nn.GELU(),
            nn.Flatten(),
            nn.Linear(48 * 7 * 7, 64),
            nn.GELU(),
        )
        self.head = nn.Linear(64, 10)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def second_split(data: DigitImages | None = None) -> DigitImages:
    """The second judge's training digits: a seeded ``PER_DIGIT`` of each digit's train images."""
    data = data if data is not None else load_mnist5k("train")
    rng = np.random.default_rng(SEED)
    keep = np.concatenate(
        [rng.permutation(np.flatnonzero(data.labels == d))[:PER_DIGIT] for d in range(10)]
    )
    keep.sort()
    return DigitImages(data.images[keep], data.labels[keep])


def train_second_judge(epochs: int = 16) -> SecondJudgeNet:
    split = second_split()
    return fit_classifier(SecondJudgeNet, split.images, split.labels, epochs, SEED, lr=3e-3)


def load_or_train_second_judge(cache_dir: str | Path | None = None) -> SecondJudgeNet:
    """The cached second judge, trained on first use (deterministic)."""
    return cached_model(f"digit_judge2_{RECIPE_VERSION}", SecondJudgeNet, train_second_judge,
                        cache_dir)


__all__ = ["SecondJudgeNet", "load_or_train_second_judge", "second_split", "train_second_judge"]
