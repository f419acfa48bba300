"""Fréchet distance in pixel space: no network between the samples and the number.

Images are flattened to ``[0, 1]`` pixels ``x`` (784-d) and projected on the top ``dims``
principal axes of the training digits: ``z = (x - m) V_dims`` with ``m`` the training mean
and ``V`` from the SVD of the centred ``(4000, 784)`` training matrix.  The FD of generated
``z`` against the held-out digits' ``z`` catches what a classifier's features ignore
(background haze, stroke width, blur).  Axis signs from the SVD do not matter: FD is
invariant under orthogonal maps.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from twinflow.data.digits import DigitImages
from twinflow.judge.distances import frechet_distance

DIMS = 64
RECIPE_VERSION = "v1"


def flat_pixels(images: np.ndarray) -> np.ndarray:
    """``(N, 28, 28[, 1])`` uint8 -> ``(N, 784)`` float64 in ``[0, 1]``."""
    arr = np.asarray(images)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3 or arr.shape[1:] != (28, 28):
        raise ValueError(f"pixel FD takes (N, 28, 28[, 1]) digits, got shape {arr.shape}")
    return arr.reshape(len(arr), -1).astype(np.float64) / 255.0


def pca_basis(images: np.ndarray, dims: int = DIMS) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(784,)`` and the top-``dims`` principal axes ``(784, dims)`` of the pixels.

    Eigenvectors of the ``(784, 784)`` covariance (the right singular vectors of the centred
    data; much cheaper than an SVD of the ``(N, 784)`` matrix)."""
    x = flat_pixels(images)
    mean = x.mean(0)
    centred = x - mean
    values, vectors = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(values)[::-1][:dims]
    return mean, np.ascontiguousarray(vectors[:, order])


class PixelFD:
    """``PixelFD(mean (784,), basis (784, dims), reference (M, 28, 28))``; call on images."""

    def __init__(self, mean: np.ndarray, basis: np.ndarray, reference: np.ndarray) -> None:
        self.mean, self.basis = np.asarray(mean, np.float64), np.asarray(basis, np.float64)
        self.reference = self.project(reference)

    @classmethod
    def fit(cls, train: DigitImages, reference: DigitImages, dims: int = DIMS) -> PixelFD:
        """PCA on ``train`` (never on ``reference``), FD against ``reference``."""
        return cls(*pca_basis(train.images, dims), reference.images)

    @classmethod
    def cached(cls, reference: DigitImages, cache_dir: str | Path | None = None) -> PixelFD:
        """The PCA of the MNIST-5k train split, cached beside the judges."""
        from safetensors.numpy import load_file, save_file

        from twinflow.data.digits import load_mnist5k
        from twinflow.judge.classifier import cache_path

        path = cache_path(cache_dir, f"pixel_pca{DIMS}_{RECIPE_VERSION}")
        if not path.is_file():
            mean, basis = pca_basis(load_mnist5k("train").images, DIMS)
            path.parent.mkdir(parents=True, exist_ok=True)
            from twinflow.data.latent_cache import temp_name
            from twinflow.file_modes import honour_umask

            tmp = temp_name(path)
            save_file({"mean": mean, "basis": basis}, tmp)
            honour_umask(tmp)  # safetensors makes 0600
            os.replace(tmp, path)
        parts = load_file(path)
        return cls(parts["mean"], parts["basis"], reference.images)

    def project(self, images: np.ndarray) -> np.ndarray:
        """``(N, 28, 28[, 1])`` -> ``(N, dims)`` PCA coordinates."""
        return (flat_pixels(images) - self.mean) @ self.basis

    def __call__(self, images: np.ndarray) -> float:
        return frechet_distance(self.project(images), self.reference)


__all__ = ["DIMS", "PixelFD", "flat_pixels", "pca_basis"]
