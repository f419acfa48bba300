"""Judge interfaces for GenEval and the masked-crop preparation shared by colour classifiers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from evaluation.geneval.rules import Detection

# Upstream composites the object over a flat "#999" background before cropping its box.
CROP_BACKGROUND: tuple[int, int, int] = (153, 153, 153)


class ObjectDetector(Protocol):
    name: str

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """For each (H, W, 3) uint8 image, all candidate detections (class from the 80 COCO
        names, score, box xyxy, (H, W) bool mask); thresholds are applied by the scorer."""


class ColorClassifier(Protocol):
    name: str

    def classify(self, crops: Sequence[np.ndarray], class_name: str) -> list[str]:
        """One colour name from `prompts.COLORS` per (h, w, 3) uint8 crop of a `class_name`."""


def masked_crop(image: np.ndarray, det: Detection) -> np.ndarray:
    """The object's pixels over the grey background, cropped to its box.

    Box edges are rounded to whole pixels and clipped to the image; a box of zero area
    falls back to a single pixel so the classifier always gets an image.
    """
    height, width = image.shape[:2]
    if det.mask is not None:
        if det.mask.shape != (height, width):
            raise ValueError(f"mask shape {det.mask.shape} != image shape {(height, width)}")
        canvas = np.empty_like(image)
        canvas[...] = np.asarray(CROP_BACKGROUND, dtype=image.dtype)
        canvas[det.mask] = image[det.mask]
    else:
        canvas = image
    x1, y1, x2, y2 = (int(round(v)) for v in det.box)
    x1, x2 = min(max(x1, 0), width - 1), min(max(x2, 0), width)
    y1, y2 = min(max(y1, 0), height - 1), min(max(y2, 0), height)
    return canvas[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)].copy()
