"""Precision and recall of generated samples by k-NN manifolds (Kynkäänniemi et al., 2019).

Each set ``S`` of ``(N, D)`` features defines a manifold: the union of balls around every
``s`` with radius ``r_k(s)``, the distance from ``s`` to its k-th nearest other point of
``S``.  Then, with real features ``R`` and generated features ``G``,

* precision = share of ``g in G`` inside the manifold of ``R`` (fidelity);
* recall    = share of ``r in R`` inside the manifold of ``G`` (coverage of the data).

A set against itself scores 1 and 1; two clusters far apart score 0 and 0.  Distances are
computed in float64 and in chunks (memory ``chunk x N``).
"""

from __future__ import annotations

import numpy as np
import torch

K = 5


def _chunks(n: int, size: int = 2048):
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def knn_radii(features: np.ndarray, k: int = K) -> np.ndarray:
    """``(N, D)`` -> ``(N,)``: distance of each row to its k-th nearest other row."""
    f = torch.as_tensor(np.asarray(features, np.float64))
    if len(f) <= k:
        raise ValueError(f"k-NN radii with k={k} need more than {k} samples, got {len(f)}")
    out = [torch.cdist(f[s], f).kthvalue(k + 1, dim=1).values for s in _chunks(len(f))]
    return torch.cat(out).numpy()  # k + 1: the row itself is at distance 0


def coverage(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
    """Share of ``points`` within ``radii[j]`` of some ``centres[j]``."""
    p = torch.as_tensor(np.asarray(points, np.float64))
    c = torch.as_tensor(np.asarray(centres, np.float64))
    r = torch.as_tensor(np.asarray(radii, np.float64))
    inside = [(torch.cdist(p[s], c) <= r).any(1) for s in _chunks(len(p))]
    return float(torch.cat(inside).double().mean())


def precision_recall(
    real: np.ndarray, fake: np.ndarray, k: int = K, real_radii: np.ndarray | None = None
) -> tuple[float, float]:
    """``(precision, recall)`` of ``fake (M, D)`` against ``real (N, D)``.

    ``real_radii``: precomputed ``knn_radii(real, k)`` (the reference set is fixed)."""
    radii = knn_radii(real, k) if real_radii is None else real_radii
    precision = coverage(fake, real, radii)
    recall = coverage(real, fake, knn_radii(fake, k))
    return precision, recall


__all__ = ["K", "coverage", "knn_radii", "precision_recall"]
