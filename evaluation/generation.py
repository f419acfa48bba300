"""Resumable, deterministic generation of benchmark images through an `ImageGenerator`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from evaluation.generator import ImageGenerator
from evaluation.images import check_batch, save_png


@dataclass(frozen=True)
class GenerationJob:
    """One generator call: `prompts` rendered with `seed`, written by `write`.

    `outputs` are the files the job produces; the job is skipped when all exist. A job is
    re-run as a whole when any output is missing (its seed fixes every image in it), and
    only the missing files are written, so resuming never changes an image on disk.
    `write(images, missing)` receives the (len(prompts), H, W, C) batch and the missing paths.
    """

    prompts: tuple[str, ...]
    seed: int
    outputs: tuple[Path, ...]
    write: Callable[[np.ndarray, Sequence[Path]], None]


@dataclass(frozen=True)
class GenerationReport:
    """How many jobs ran and were skipped, and the number of images the generator produced."""

    jobs_run: int
    jobs_skipped: int
    images_generated: int


def one_per_prompt(outputs: Sequence[Path]) -> Callable[[np.ndarray, Sequence[Path]], None]:
    """A `GenerationJob.write` that saves row i of the batch to `outputs[i]` if it is missing."""

    def write(images: np.ndarray, missing: Sequence[Path]) -> None:
        wanted = set(missing)
        for image, path in zip(images, outputs, strict=True):
            if path in wanted:
                save_png(image, path)

    return write


def run_jobs(
    generator: ImageGenerator,
    jobs: Sequence[GenerationJob],
    nfe: int,
    desc: str,
    progress: bool = True,
) -> GenerationReport:
    """Run every job whose outputs are incomplete; see `GenerationJob` for the resume rule."""
    run = skipped = generated = 0
    for job in tqdm(jobs, desc=desc, disable=not progress, unit="batch"):
        missing = [path for path in job.outputs if not path.is_file()]
        if not missing:
            skipped += 1
            continue
        images = check_batch(generator.generate(list(job.prompts), nfe, job.seed), len(job.prompts))
        job.write(images, missing)
        run += 1
        generated += images.shape[0]
    return GenerationReport(jobs_run=run, jobs_skipped=skipped, images_generated=generated)


def prompt_seed(base_seed: int, index: int) -> int:
    """Seed of prompt (or batch) `index`: base + index, so every unit has its own fixed seed."""
    return int(base_seed) + int(index)
