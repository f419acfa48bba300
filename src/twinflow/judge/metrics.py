"""The one digit scorer: every quality number of generated digits, from one call.

``DigitJudge().score(images, labels)`` for ``(N, 28, 28[, 1])`` uint8 digits and their
prompted labels returns ``DigitScores``:

* tuned judge (``classifier.py``; the recipe was tuned on its FD):
  ``accuracy`` share classified as the prompted digit; ``fd`` Fréchet distance
  ``|mu_g - mu_r|^2 + Tr(S_g + S_r - 2 (S_g S_r)^(1/2))`` of its 128-d features to the
  held-out real digits; ``diversity`` mean within-digit pairwise feature distance divided
  by the same for the held-out digits (over the digits with >= 2 samples; 1 = as diverse as
  the data, collapse -> 0);
* held-out second judge (``second_judge.py``, never tuned on): ``accuracy_judge2`` and
  ``fd_judge2`` in its 64-d features;
* ``fd_pixel``: FD in the 64-d PCA space of training-digit pixels (``pixel_fd.py``);
* ``precision`` / ``recall``: k-NN manifolds, k = 5, in the second judge's features,
  generated vs held-out (``manifold.py``).

The reference is the 1,000 held-out MNIST-5k digits, seen by no judge and no PCA.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from twinflow.data.digits import DigitImages, load_mnist5k
from twinflow.judge.classifier import DigitClassifier, images_to_input, load_or_train_classifier
from twinflow.judge.distances import frechet_distance, mean_pairwise_distance
from twinflow.judge.manifold import K, coverage, knn_radii
from twinflow.judge.pixel_fd import PixelFD
from twinflow.judge.second_judge import SecondJudgeNet, load_or_train_second_judge

METRICS = ("accuracy", "fd", "diversity", "accuracy_judge2", "fd_judge2", "fd_pixel",
           "precision", "recall")


@dataclass
class DigitScores:
    """Every digit metric of one sample set (``n`` samples); see the module docstring."""

    accuracy: float
    fd: float
    diversity: float
    accuracy_judge2: float
    fd_judge2: float
    fd_pixel: float
    precision: float
    recall: float
    n: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@torch.no_grad()
def _run(net: nn.Module, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(N, D)`` and logits ``(N, 10)`` in batches of 500."""
    x = images_to_input(images)
    feats, logits = [], []
    for i in range(0, len(x), 500):
        f = net.features(x[i : i + 500])
        feats.append(f)
        logits.append(net.head(f))
    if not feats:
        raise ValueError("no images to score; pass at least one (N >= 1) digit")
    return torch.cat(feats).numpy(), torch.cat(logits).numpy()


class DigitJudge:
    """Scores ``(N, 28, 28[, 1])`` uint8 digits against prompted labels (all metrics).

    Args:
        classifier: the tuned judge (default: cached, trained on first use).
        cache_dir: judge cache folder (default ``$TWINFLOW_CACHE``).
        real: the reference digits (default: the MNIST-5k held-out split).
        second: the held-out second judge (default: cached, trained on first use).
        pixel: the pixel-FD projection (default: the cached PCA of the MNIST-5k train split,
            against ``real``).
    """

    def __init__(
        self,
        classifier: DigitClassifier | None = None,
        cache_dir: str | None = None,
        real: DigitImages | None = None,
        second: SecondJudgeNet | None = None,
        pixel: PixelFD | None = None,
    ) -> None:
        self.classifier = classifier or load_or_train_classifier(cache_dir)
        self.second = second or load_or_train_second_judge(cache_dir)
        real = real if real is not None else load_mnist5k("heldout")
        self.pixel = pixel or PixelFD.cached(real, cache_dir)
        self.real_images, self.real_labels = real.images, np.asarray(real.labels)
        self.real_features = self.features(real.images)
        self.real_features2 = _run(self.second, real.images)[0]
        self.real_radii2 = knn_radii(self.real_features2, K)
        self._real_within = {
            int(d): mean_pairwise_distance(self.real_features[self.real_labels == d])
            for d in np.unique(self.real_labels)
        }
        self.real_diversity = float(np.mean(list(self._real_within.values())))

    def features(self, images: np.ndarray) -> np.ndarray:
        """The tuned judge's ``(N, 128)`` features."""
        return _run(self.classifier, images)[0]

    def predict(self, images: np.ndarray) -> np.ndarray:
        """The tuned judge's ``(N,)`` predicted digits."""
        return _run(self.classifier, images)[1].argmax(1)

    def diversity(self, features: np.ndarray, labels: np.ndarray) -> float:
        """Within-digit spread relative to the held-out digits, over digits with >= 2 rows."""
        digits = [int(d) for d in np.unique(labels) if (labels == d).sum() >= 2]
        if not digits:
            return float("nan")
        ours = np.mean([mean_pairwise_distance(features[labels == d]) for d in digits])
        return float(ours / np.mean([self._real_within[d] for d in digits]))

    def score(self, images: np.ndarray, labels: np.ndarray) -> DigitScores:
        """Every metric of ``images`` drawn for ``labels`` (see the module docstring)."""
        labels = np.asarray(labels)
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        feats, logits = _run(self.classifier, images)
        feats2, logits2 = _run(self.second, images)
        precision = coverage(feats2, self.real_features2, self.real_radii2)
        recall = (coverage(self.real_features2, feats2, knn_radii(feats2, K))
                  if len(feats2) > K else float("nan"))
        return DigitScores(
            accuracy=float((logits.argmax(1) == labels).mean()),
            fd=frechet_distance(feats, self.real_features),
            diversity=self.diversity(feats, labels),
            accuracy_judge2=float((logits2.argmax(1) == labels).mean()),
            fd_judge2=frechet_distance(feats2, self.real_features2),
            fd_pixel=self.pixel(images),
            precision=precision,
            recall=recall,
            n=len(labels),
        )

    def pack(self) -> dict:
        """Everything the judge needs as tensors (``torch.save``-able; no mlxtend to unpack)."""
        return {
            "judge": self.classifier.state_dict(),
            "judge2": self.second.state_dict(),
            "pixel_mean": torch.as_tensor(self.pixel.mean),
            "pixel_basis": torch.as_tensor(self.pixel.basis),
            "heldout_images": torch.as_tensor(self.real_images),
            "heldout_labels": torch.as_tensor(self.real_labels),
        }

    @classmethod
    def unpack(cls, parts: dict) -> DigitJudge:
        """The judge ``pack()`` described, bit for bit."""
        first, second = DigitClassifier(), SecondJudgeNet()
        first.load_state_dict(parts["judge"])
        second.load_state_dict(parts["judge2"])
        real = DigitImages(parts["heldout_images"].numpy(), parts["heldout_labels"].numpy())
        pixel = PixelFD(parts["pixel_mean"].numpy(), parts["pixel_basis"].numpy(), real.images)
        return cls(first.eval(), real=real, second=second.eval(), pixel=pixel)


__all__ = ["METRICS", "DigitJudge", "DigitScores", "frechet_distance", "mean_pairwise_distance"]
