"""Sample diversity as a `Benchmark`: K images per prompt, mean pairwise distance.

The distance is LPIPS when both weight files are given, else (offline fallback for the
digits default) the digit judge's feature distance, reported as "digit-judge feature distance".
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.benchmarks.base import Benchmark, require_file
from evaluation.benchmarks.digits import check_digit_shape
from evaluation.digits import digit_feature_distance
from evaluation.diversity import LPIPSDistance, PairDistance, pairwise_diversity
from evaluation.errors import BenchmarkInputError
from evaluation.generation import (
    GenerationJob,
    GenerationReport,
    one_per_prompt,
    prompt_seed,
    run_jobs,
)
from evaluation.generator import ImageGenerator
from evaluation.images import load_rgb
from evaluation.result import BenchmarkResult


def sample_paths(outdir: Path, index: int, k: int) -> tuple[Path, ...]:
    return tuple(outdir / f"{index:05d}" / f"{j:02d}.png" for j in range(k))


def read_prompt_lines(path: Path) -> list[str]:
    prompts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    prompts = [p for p in prompts if p]
    if not prompts:
        raise BenchmarkInputError(f"diversity prompt file {path} is empty; one prompt per line")
    return prompts


class DiversityBenchmark(Benchmark):
    """`k` samples per prompt (one generator call of [prompt] * k, seed + prompt index).

    Args:
        prompts_file: one prompt per line (default: the ten "a handwritten <digit>" prompts).
        k: samples per prompt (>= 2).
        lpips_alexnet_path, lpips_lin_path: LPIPS weight files (CLI `--lpips-alexnet`,
            `--lpips-lin`); both or neither. Neither: digit-judge feature distance (28x28 only).
        distance: a ready `PairDistance` (skips the paths).
        digit_judge: a ready `DigitJudge` for the fallback (default: built on first use).
        cache_dir: the digit judge's cache folder (default `$TWINFLOW_CACHE`).
    """

    name = "diversity"

    def __init__(
        self,
        prompts_file: str | None = None,
        k: int = 4,
        lpips_alexnet_path: str | None = None,
        lpips_lin_path: str | None = None,
        distance: PairDistance | None = None,
        digit_judge: Any | None = None,
        cache_dir: str | None = None,
        device: str = "cpu",
    ) -> None:
        self.prompts_file, self.k, self.distance = prompts_file, k, distance
        self.lpips_alexnet_path, self.lpips_lin_path = lpips_alexnet_path, lpips_lin_path
        self.digit_judge, self.cache_dir, self.device = digit_judge, cache_dir, device
        self._prompts: list[str] | None = None

    @property
    def uses_lpips(self) -> bool:
        return self.distance is None and self.lpips_alexnet_path is not None

    def validate(self) -> None:
        if isinstance(self.k, bool) or int(self.k) < 2:
            raise BenchmarkInputError(f"diversity k={self.k!r}; use k >= 2 samples per prompt")
        if self.distance is None:
            given = (self.lpips_alexnet_path is not None, self.lpips_lin_path is not None)
            if given[0] != given[1]:
                raise BenchmarkInputError(
                    "LPIPS needs both weight files: pass --lpips-alexnet and --lpips-lin "
                    "(or neither, for the digit-judge feature distance)"
                )
            if self.uses_lpips:
                require_file(self.lpips_alexnet_path, "LPIPS AlexNet weights", "--lpips-alexnet")
                require_file(self.lpips_lin_path, "LPIPS v0.1 head weights", "--lpips-lin")
        if self._prompts is None:
            if self.prompts_file is None:
                from twinflow.data.digits import digit_prompt

                self._prompts = [digit_prompt(d) for d in range(10)]
            else:
                path = require_file(self.prompts_file, "diversity prompt file", "--div-prompts")
                self._prompts = read_prompt_lines(path)

    def keys(self) -> list[str]:
        self.validate()
        return [str(i) for i in range(len(self._prompts))]

    def check_images(self, image_shape: tuple[int, int, int]) -> None:
        if self.distance is None and not self.uses_lpips:
            check_digit_shape(image_shape, "diversity without LPIPS weights (--lpips-alexnet)")

    def load_judges(self) -> None:
        if self.distance is not None:
            return
        if self.uses_lpips:
            self.distance = LPIPSDistance(self.lpips_alexnet_path, self.lpips_lin_path,
                                          device=self.device)
            return
        if self.digit_judge is None:
            from twinflow.judge import DigitJudge

            self.digit_judge = DigitJudge(cache_dir=self.cache_dir)
        self.distance = digit_feature_distance(self.digit_judge)

    def generate(
        self, generator: ImageGenerator, outdir: Path, nfe: int, positions: list[int],
        seed: int, progress: bool,
    ) -> GenerationReport:
        self.validate()
        jobs = []
        for i in positions:
            outputs = sample_paths(outdir, i, self.k)
            jobs.append(GenerationJob((self._prompts[i],) * self.k, prompt_seed(seed, i),
                                      outputs, one_per_prompt(outputs)))
        return run_jobs(generator, jobs, nfe, desc="diversity", progress=progress)

    def score(self, outdir: Path, positions: list[int], progress: bool) -> BenchmarkResult:
        self.load_judges()
        samples = [np.stack([load_rgb(p) for p in sample_paths(outdir, i, self.k)])
                   for i in positions]
        result = pairwise_diversity(samples, self.distance)
        out = result.to_result("diversity", [self._prompts[i] for i in positions])
        for item, i in zip(out.per_item, positions, strict=True):
            item["prompt_index"] = i
        return replace(out, meta=dict(out.meta, outdir=os.fspath(outdir)))

    def sample_groups(
        self, outdir: Path, positions: list[int], per_group: int
    ) -> dict[str, list[Path]]:
        groups: dict[str, list[Path]] = {}
        for i in positions[:10]:
            paths = [p for p in sample_paths(outdir, i, self.k)[:per_group] if p.is_file()]
            if paths:
                groups[self._prompts[i]] = paths
        return groups
