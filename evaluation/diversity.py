"""Sample diversity: mean pairwise distance among the K samples of each prompt.

    D(prompt) = 2 / (K (K - 1)) * sum_{i < j} d(x_i, x_j)      (all K(K-1)/2 pairs)
    D = mean over prompts of D(prompt)

`d` comes from a `PairDistance` backend whose `name` is reported with the result: LPIPS
(AlexNet, v0.1) or a `FeatureDistance` over any feature function (e.g. the digit judge,
reported as "digit-judge feature distance"; such a backend may never call itself LPIPS).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal, Protocol

import numpy as np
import torch

from evaluation.errors import BenchmarkInputError
from evaluation.generation import prompt_seed
from evaluation.generator import ImageGenerator
from evaluation.images import check_batch, to_rgb
from evaluation.lpips import load_lpips
from evaluation.result import BenchmarkResult, mean


class PairDistance(Protocol):
    name: str

    def distances(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """d(a[p], b[p]) for uint8 image stacks a, b of shape (P, H, W, C); returns (P,)."""


class LPIPSDistance:
    """LPIPS between uint8 images, mapped to [-1, 1] (grey images repeated to RGB)."""

    name = "lpips-alex-v0.1"

    def __init__(
        self,
        alexnet_path: str | os.PathLike[str],
        lin_path: str | os.PathLike[str],
        device: str | torch.device = "cpu",
        batch_size: int = 32,
    ) -> None:
        self.model = load_lpips(alexnet_path, lin_path).to(device)
        self.device = torch.device(device)
        self.batch_size = batch_size

    def _tensor(self, images: np.ndarray) -> torch.Tensor:
        rgb = np.stack([to_rgb(im) for im in images])
        x = torch.from_numpy(rgb).to(self.device).permute(0, 3, 1, 2).float()
        return x / 127.5 - 1.0

    @torch.no_grad()
    def distances(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(a), self.batch_size):
            end = start + self.batch_size
            out.append(self.model(self._tensor(a[start:end]), self._tensor(b[start:end])).cpu())
        return torch.cat(out).double().numpy() if out else np.zeros(0)


class FeatureDistance:
    """Distance between feature vectors: `feature_fn` maps (N, H, W, C) uint8 -> (N, D).

    metric "l2": ||f(a) - f(b)||_2;  "cosine": 1 - cos(f(a), f(b)).
    """

    def __init__(
        self,
        feature_fn: Callable[[np.ndarray], np.ndarray],
        name: str,
        metric: Literal["l2", "cosine"] = "l2",
    ) -> None:
        if "lpips" in name.lower():
            raise ValueError(f"a FeatureDistance must not be reported as LPIPS (got {name!r})")
        if metric not in ("l2", "cosine"):
            raise ValueError(f"metric must be 'l2' or 'cosine', got {metric!r}")
        self.feature_fn, self.name, self.metric = feature_fn, name, metric

    def distances(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        fa = np.asarray(self.feature_fn(a), dtype=np.float64).reshape(len(a), -1)
        fb = np.asarray(self.feature_fn(b), dtype=np.float64).reshape(len(b), -1)
        if self.metric == "l2":
            return np.linalg.norm(fa - fb, axis=1)
        norms = np.linalg.norm(fa, axis=1) * np.linalg.norm(fb, axis=1)
        return 1.0 - (fa * fb).sum(axis=1) / np.maximum(norms, 1e-12)


@dataclass(frozen=True)
class DiversityResult:
    """Mean pairwise distance per prompt and over prompts, with the backend that measured it."""

    backend: str
    k: int
    per_prompt: list[float]
    mean: float

    def to_result(
        self, name: str = "diversity", prompts: Sequence[str] | None = None
    ) -> BenchmarkResult:
        items = [{"prompt_index": i, "diversity": d} for i, d in enumerate(self.per_prompt)]
        for item, text in zip(items, prompts or [], strict=False):
            item["prompt"] = text
        pairs = self.k * (self.k - 1) // 2
        meta = {"backend": self.backend, "k": self.k, "pairs_per_prompt": pairs}
        return BenchmarkResult(name, self.mean, {self.backend: self.mean}, items, meta)


def pairwise_diversity(samples: Sequence[np.ndarray], distance: PairDistance) -> DiversityResult:
    """`samples[p]` is the (K, H, W, C) uint8 stack of prompt p (same K for all, K >= 2)."""
    if not samples:
        raise BenchmarkInputError("no samples given; generate K >= 2 images per prompt")
    k = samples[0].shape[0]
    if k < 2 or any(s.shape[0] != k for s in samples):
        counts = [len(s) for s in samples]
        raise BenchmarkInputError(f"every prompt needs the same K >= 2 samples, got {counts}")
    if len({s.shape[1:] for s in samples}) != 1:
        raise BenchmarkInputError("all samples need one (H, W, C); resize or score prompts apart")
    pairs = list(combinations(range(k), 2))
    a = np.stack([s[i] for s in samples for i, _ in pairs])
    b = np.stack([s[j] for s in samples for _, j in pairs])
    d = np.asarray(distance.distances(a, b), dtype=np.float64).reshape(len(samples), len(pairs))
    per_prompt = [float(row.mean()) for row in d]
    return DiversityResult(distance.name, k, per_prompt, mean(per_prompt))


def generate_samples(
    generator: ImageGenerator, prompts: Sequence[str], nfe: int, k: int = 4, seed: int = 0
) -> list[np.ndarray]:
    """K samples per prompt: one call of [prompt] * K with seed + prompt index."""
    return [
        check_batch(generator.generate([p] * k, nfe, prompt_seed(seed, i)), k)
        for i, p in enumerate(prompts)
    ]
