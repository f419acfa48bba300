"""The digits benchmark prompts: `twinflow.judge.protocol.digit_prompts(per_digit)`, with labels.

The order is the one protocol every digit score uses (demo summary, `DigitQuality` curves,
this benchmark): round-robin over digits (0, 1, ..., 9, 0, 1, ...), so every prefix is
balanced over the ten digits and a "first n prompts" subset is the first n/10 per digit.
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
    from twinflow.judge.protocol import digit_prompts

    prompts, labels = digit_prompts(per_digit)
    return [DigitPrompt(i, text, int(label))
            for i, (text, label) in enumerate(zip(prompts, labels, strict=True))]
