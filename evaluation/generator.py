"""The image-producing side of every benchmark, abstracted as a protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class ImageGenerator(Protocol):
    def generate(self, prompts: Sequence[str], nfe: int, seed: int) -> np.ndarray:
        """uint8 images, shape (len(prompts), H, W, C), C in {1, 3}; deterministic for a seed."""
