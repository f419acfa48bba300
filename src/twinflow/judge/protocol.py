"""The one prompt and seed protocol for scoring digit models.

Prompts: ``per_digit`` per digit, interleaved round-robin over the digits, so position
``i = k * 10 + d`` is digit ``d`` with template ``k`` (cycled).  Every prefix is balanced;
``digit_prompts(n)`` is the first ``10 n`` of ``digit_prompts(m)`` for ``n <= m``.

Seeds: the list is cut into chunks of ``CHUNK`` (100) prompts in order; chunk ``j`` is one
``generate(chunk, nfe, seed=seed + j)`` call.  So the first ``n`` per digit are the same
images whatever the total, and ``twinflow demo``'s summary, the ``DigitQuality`` curves and
``make eval BENCH=digits`` (its default ``batch_size`` is ``CHUNK``) draw the same images
for the same model, NFE, seed and count.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twinflow.data.digits import digit_prompt

CHUNK = 100


def digit_prompts(per_digit: int, digit_major: bool = False) -> tuple[list[str], np.ndarray]:
    """``10 * per_digit`` prompts and their ``(10 * per_digit,)`` labels.

    ``digit_major=True`` lists the same pairs digit by digit (all zeros first), for grids
    with one row per digit; scoring always uses the interleaved order."""
    if isinstance(per_digit, bool) or not isinstance(per_digit, int) or per_digit < 1:
        raise ValueError(f"per_digit must be an integer >= 1, got {per_digit!r}")
    pairs = [(d, k) for k in range(per_digit) for d in range(10)]
    if digit_major:
        pairs.sort()
    return [digit_prompt(d, k) for d, k in pairs], np.array([d for d, _ in pairs])


def chunk_seeds(n: int, seed: int, chunk: int = CHUNK) -> list[tuple[int, int, int]]:
    """``(start, stop, seed + j)`` of chunk ``j`` of ``n`` prompts."""
    return [(s, min(s + chunk, n), int(seed) + j) for j, s in enumerate(range(0, n, chunk))]


def sample_digits(
    model: Any, per_digit: int, nfe: int, seed: int, style: str | None = None
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """``model.generate(prompts, nfe=, seed=, style=)`` chunk by chunk: images ``(N, 28, 28,
    1)`` uint8, prompts and labels of ``digit_prompts(per_digit)``."""
    prompts, labels = digit_prompts(per_digit)
    out = [model.generate(prompts[a:b], nfe=nfe, seed=s, style=style)
           for a, b, s in chunk_seeds(len(prompts), seed)]
    return np.concatenate(out), prompts, labels


def grid_order(labels: np.ndarray, per_row: int = 10) -> np.ndarray:
    """Indices of the first ``per_row`` samples of each digit, digit by digit (grid rows)."""
    labels = np.asarray(labels)
    return np.concatenate([np.flatnonzero(labels == d)[:per_row] for d in np.unique(labels)])


__all__ = ["CHUNK", "chunk_seeds", "digit_prompts", "grid_order", "sample_digits"]
