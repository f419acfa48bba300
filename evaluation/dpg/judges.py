"""The DPG-Bench judge interface."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class VQAJudge(Protocol):
    name: str

    def answer(self, images: Sequence[np.ndarray], questions: Sequence[str]) -> list[bool]:
        """True where the judge answers "yes" to questions[i] about images[i] ((H, W, 3) uint8)."""
