"""The embedded digits benchmark as a `Benchmark` (offline; the default of `make eval`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from evaluation.benchmarks.base import Benchmark
from evaluation.digits import (
    DigitPrompt,
    generate_digits,
    image_path,
    load_digit_prompts,
    score_digits,
)
from evaluation.errors import BenchmarkInputError
from evaluation.generation import GenerationReport
from evaluation.generator import ImageGenerator
from evaluation.result import BenchmarkResult
from twinflow.judge.protocol import CHUNK


def check_digit_shape(image_shape: tuple[int, int, int], what: str) -> None:
    """The digit judge reads 28x28 images (grey, or RGB converted to grey)."""
    if tuple(image_shape[:2]) != (28, 28):
        raise BenchmarkInputError(
            f"{what} needs 28x28 digits, the model makes {image_shape[0]}x{image_shape[1]}; "
            "use it on a digits-default model only"
        )


class DigitsBenchmark(Benchmark):
    """`per_digit` prompts per digit, scored by `twinflow.judge.DigitJudge` (every metric).

    Args:
        per_digit: prompts (one image each) per digit; 100 gives the numbers `make demo` reports.
        judge: a ready `DigitJudge`; default: built on first use (trained once, cached).
        cache_dir: the judge's cache folder (default `$TWINFLOW_CACHE`).
        batch_size: prompts per generator call (keep fixed when resuming); the default
            (`twinflow.judge.protocol.CHUNK`) draws the images the demo and the
            `DigitQuality` callback draw for the same model, NFE and seed.
    """

    name = "digits"

    def __init__(
        self,
        per_digit: int = 100,
        judge: Any | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        batch_size: int = CHUNK,
    ) -> None:
        self.per_digit, self.judge, self.batch_size = per_digit, judge, batch_size
        self.cache_dir = None if cache_dir is None else os.fspath(cache_dir)
        self._prompts: list[DigitPrompt] | None = None

    def validate(self) -> None:
        if isinstance(self.batch_size, bool) or int(self.batch_size) < 1:
            raise BenchmarkInputError(f"digits batch_size={self.batch_size!r}; use >= 1")
        if self._prompts is None:
            self._prompts = load_digit_prompts(self.per_digit)

    def keys(self) -> list[str]:
        self.validate()
        return [str(p.index) for p in self._prompts]

    def check_images(self, image_shape: tuple[int, int, int]) -> None:
        check_digit_shape(image_shape, "the digits benchmark")

    def load_judges(self) -> None:
        if self.judge is None:
            from twinflow.judge import DigitJudge

            self.judge = DigitJudge(cache_dir=self.cache_dir)

    def generate(
        self, generator: ImageGenerator, outdir: Path, nfe: int, positions: list[int],
        seed: int, progress: bool,
    ) -> GenerationReport:
        return generate_digits(generator, self._chosen(positions), outdir, nfe, seed,
                               self.batch_size, progress)

    def score(self, outdir: Path, positions: list[int], progress: bool) -> BenchmarkResult:
        self.load_judges()
        return score_digits(outdir, self._chosen(positions), self.judge)

    def sample_groups(
        self, outdir: Path, positions: list[int], per_group: int
    ) -> dict[str, list[Path]]:
        groups: dict[str, list[Path]] = {}
        for p in sorted(self._chosen(positions), key=lambda p: (p.label, p.index)):
            paths = groups.setdefault(f"digit_{p.label}", [])
            if len(paths) < per_group and image_path(outdir, p).is_file():
                paths.append(image_path(outdir, p))
        return groups
