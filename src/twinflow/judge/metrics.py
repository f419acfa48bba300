"""Quality numbers for generated digits, in the judge's feature space.

* accuracy: share of samples the judge classifies as the prompted digit;
* FD: Fréchet distance ``|mu_g - mu_r|^2 + Tr(S_g + S_r - 2 (S_g S_r)^(1/2))`` between Gaussian
  fits of generated and real (held-out) features;
* diversity: mean pairwise feature distance within each digit for generated samples divided
  by the same for real held-out digits (1.0 = as diverse as the data; collapse -> 0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy import linalg

from twinflow.data.digits import DigitImages, load_mnist5k
from twinflow.judge.classifier import DigitClassifier, images_to_input, load_or_train_classifier


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """FD between ``(N, D)`` and ``(M, D)`` feature sets.

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


@dataclass
class DigitScores:
    accuracy: float
    fd: float
    diversity: float
    n: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


class DigitJudge:
    """Scores ``(N, 28, 28[, 1])`` uint8 digits against prompted labels."""

    def __init__(
        self,
        classifier: DigitClassifier | None = None,
        cache_dir: str | None = None,
        real: DigitImages | None = None,
    ) -> None:
        """``real``: the reference digits (default: the MNIST-5k held-out split)."""
        self.classifier = classifier or load_or_train_classifier(cache_dir)
        real = real if real is not None else load_mnist5k("heldout")
        self.real_features = self.features(real.images)
        self.real_labels = real.labels
        self.real_diversity = self._within_label_distance(self.real_features, self.real_labels)

    @torch.no_grad()
    def _run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = images_to_input(images)
        feats, logits = [], []
        for i in range(0, len(x), 500):
            f = self.classifier.features(x[i : i + 500])
            feats.append(f)
            logits.append(self.classifier.head(f))
        return torch.cat(feats).numpy(), torch.cat(logits).numpy()

    def features(self, images: np.ndarray) -> np.ndarray:
        return self._run(images)[0]

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self._run(images)[1].argmax(1)

    @staticmethod
    def _within_label_distance(features: np.ndarray, labels: np.ndarray) -> float:
        values = [mean_pairwise_distance(features[labels == d]) for d in np.unique(labels)]
        return float(np.mean(values))

    def score(self, images: np.ndarray, labels: np.ndarray) -> DigitScores:
        """Accuracy, FD to held-out real digits and relative diversity."""
        labels = np.asarray(labels)
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        feats, logits = self._run(images)
        accuracy = float((logits.argmax(1) == labels).mean())
        fd = frechet_distance(feats, self.real_features)
        diversity = self._within_label_distance(feats, labels) / self.real_diversity
        return DigitScores(accuracy, fd, diversity, len(labels))
