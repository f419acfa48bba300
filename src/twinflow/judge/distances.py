"""Set distances used by every digit metric: Fréchet distance and mean pairwise distance."""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """FD ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` of ``(N, D)`` and ``(M, D)``.

    ``eps * I`` is added to both covariances: ReLU features have dead dimensions, and the
    matrix square root of a singular product is ill-defined.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    offset = eps * np.eye(a.shape[1])
    cov_a, cov_b = np.cov(a, rowvar=False) + offset, np.cov(b, rowvar=False) + offset
    covmean = linalg.sqrtm(cov_a @ cov_b)  # no `disp`: removed in newer SciPy
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean Euclidean distance over all unordered pairs of ``(N, D)`` rows (N >= 2)."""
    f = torch.as_tensor(np.asarray(features, np.float64))
    if len(f) < 2:
        raise ValueError("diversity needs at least two samples per prompt")
    d = torch.cdist(f, f)
    n = len(f)
    return float(d.sum() / (n * (n - 1)))


__all__ = ["frechet_distance", "mean_pairwise_distance"]
