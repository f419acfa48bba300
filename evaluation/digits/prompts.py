"""The digits benchmark prompts: `digit_prompts(per_digit)` of the embedded default, with labels.

`twinflow.callbacks.digit_quality.digit_prompts` lists prompts digit-major (all zeros first).
Here they are interleaved (round-robin over digits: 0, 1, ..., 9, 0, 1, ...) so that every
prefix is balanced over the ten digits and a "first n prompts" subset stays meaningful; the
set of (prompt, label) pairs is exactly the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.errors import BenchmarkInputError


@dataclass(frozen=True)
class DigitPrompt:
    """`index` is the position in the interleaved list (also the image file stem)."""

    index: int
    prompt: str
    label: int


def load_digit_prompts(per_digit: int = 100) -> list[DigitPrompt]:
    """`10 * per_digit` prompts, round-robin over the digits; `per_digit >= 1`."""
    if isinstance(per_digit, bool) or not isinstance(per_digit, int) or per_digit < 1:
        raise BenchmarkInputError(f"digits per_digit must be an integer >= 1, got {per_digit!r}")
    from twinflow.callbacks.digit_quality import digit_prompts

    prompts, labels = digit_prompts(per_digit)
    order = [d * per_digit + k for k in range(per_digit) for d in range(10)]
    return [
        DigitPrompt(i, prompts[j], int(labels[j])) for i, j in enumerate(order)
    ]
