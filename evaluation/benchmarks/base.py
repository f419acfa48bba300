"""The benchmark interface shared by the runner and the Lightning callback.

A `Benchmark` knows its prompt set, its judges (objects, or local paths it loads lazily) and
its folder layout. `validate()` is cheap (files exist, prompts parse) and runs before any
expensive work; `run()` loads the judges, generates the missing images and scores them.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import replace
from pathlib import Path

from evaluation.benchmarks.subset import PromptSubset
from evaluation.errors import BenchmarkInputError
from evaluation.generation import GenerationReport
from evaluation.generator import ImageGenerator
from evaluation.result import BenchmarkResult


def require_dir(path: str | os.PathLike[str] | None, what: str, arg: str) -> Path:
    """`path` as a Path if it is an existing folder, else a one-line error naming the argument."""
    if path is None:
        raise BenchmarkInputError(f"{what} not given; pass {arg} = a local save_pretrained folder")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise BenchmarkInputError(f"{what} folder {folder} not found; fix {arg}")
    return folder


def require_file(path: str | os.PathLike[str] | None, what: str, arg: str) -> Path:
    """`path` as a Path if it is an existing file, else a one-line error naming the argument."""
    if path is None:
        raise BenchmarkInputError(f"{what} not given; pass {arg} = its local path")
    file = Path(path).expanduser()
    if not file.is_file():
        raise BenchmarkInputError(f"{what} {file} not found; fix {arg}")
    return file


class Benchmark(ABC):
    """One benchmark end to end. Subclasses set `name` and implement the abstract methods."""

    name: str = "benchmark"

    @abstractmethod
    def validate(self) -> None:
        """Check every input file and judge path and read the prompts; cheap, idempotent."""

    @abstractmethod
    def keys(self) -> list[str]:
        """The prompt keys in benchmark order (after `validate`)."""

    def _chosen(self, positions: list[int]) -> list:
        """The prompts at `positions` (subclasses keep theirs in `_prompts` after `validate`)."""
        self.validate()
        return [self._prompts[i] for i in positions]

    def check_images(self, image_shape: tuple[int, int, int]) -> None:
        """Refuse a generator whose (H, W, C) the judges cannot use (default: accept all)."""
        return None

    @abstractmethod
    def load_judges(self) -> None:
        """Build the judges from their paths (expensive; once)."""

    @abstractmethod
    def generate(
        self, generator: ImageGenerator, outdir: Path, nfe: int, positions: list[int],
        seed: int, progress: bool,
    ) -> GenerationReport:
        """Write the images of the prompts at `positions` (resumable)."""

    @abstractmethod
    def score(self, outdir: Path, positions: list[int], progress: bool) -> BenchmarkResult:
        """Score the images of the prompts at `positions`."""

    @abstractmethod
    def sample_groups(
        self, outdir: Path, positions: list[int], per_group: int
    ) -> dict[str, list[Path]]:
        """Up to `per_group` image files per tag, for sample grids."""

    def select(self, subset: PromptSubset | None = None) -> list[int]:
        """Positions of the prompts in `subset` (default: all); validates first."""
        self.validate()
        return (subset or PromptSubset()).apply(self.keys(), self.name)

    def run(
        self,
        generator: ImageGenerator,
        outdir: str | os.PathLike[str],
        nfe: int,
        subset: PromptSubset | None = None,
        seed: int = 0,
        progress: bool = True,
    ) -> BenchmarkResult:
        """validate -> select -> load judges -> generate (skips images on disk) -> score.

        The result's meta gains nfe, seed, the subset and the generation counts.
        """
        if isinstance(nfe, bool) or int(nfe) < 1:
            raise BenchmarkInputError(f"nfe={nfe!r}; use an integer >= 1")
        positions = self.select(subset)
        self.load_judges()
        root = Path(outdir)
        report = self.generate(generator, root, int(nfe), positions, seed, progress)
        result = self.score(root, positions, progress)
        meta = dict(result.meta, nfe=int(nfe), seed=seed,
                    subset=(subset or PromptSubset()).describe(), prompts_scored=len(positions),
                    images_generated=report.images_generated, jobs_skipped=report.jobs_skipped)
        return replace(result, meta=meta)
