"""The digit judge's features as an offline `PairDistance` for the diversity benchmark."""

from __future__ import annotations

from typing import Any

import numpy as np

from evaluation.diversity import FeatureDistance
from evaluation.errors import BenchmarkInputError
from evaluation.images import to_grey

NAME = "digit-judge feature distance"


def digit_feature_distance(judge: Any) -> FeatureDistance:
    """L2 distance between `DigitJudge` penultimate features (128-d) of 28x28 digits.

    Grey and RGB images are accepted (RGB is converted to grey first). Reported as
    "digit-judge feature distance", never as LPIPS.
    """

    def features(images: np.ndarray) -> np.ndarray:
        grey = to_grey(np.asarray(images))
        if grey.shape[1:] != (28, 28, 1):
            raise BenchmarkInputError(
                f"images of shape {grey.shape[1:]} for the digit-judge feature distance, which "
                "needs 28x28 digits; pass LPIPS weights for other models"
            )
        return judge.features(grey)

    return FeatureDistance(features, NAME, metric="l2")
