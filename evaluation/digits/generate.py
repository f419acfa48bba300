"""Write digits-benchmark images: one PNG per prompt, `<outdir>/<label>/<index:05d>.png`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from evaluation.digits.prompts import DigitPrompt
from evaluation.generation import (
    GenerationJob,
    GenerationReport,
    one_per_prompt,
    run_jobs,
)
from evaluation.generator import ImageGenerator
from twinflow.judge.protocol import CHUNK, chunk_seeds


def image_path(outdir: Path, prompt: DigitPrompt) -> Path:
    return outdir / str(prompt.label) / f"{prompt.index:05d}.png"


def generate_digits(
    generator: ImageGenerator,
    prompts: Sequence[DigitPrompt],
    outdir: str | os.PathLike[str],
    nfe: int,
    seed: int = 0,
    batch_size: int = CHUNK,
    progress: bool = True,
) -> GenerationReport:
    """Prompts are cut into chunks of `batch_size` in list order; chunk j is one generator call
    with seed `seed + j` (`twinflow.judge.protocol.chunk_seeds`: with the default
    `batch_size` the images equal the demo's and the `DigitQuality` callback's). Keep
    `batch_size` fixed when resuming: existing PNGs are never rewritten, and a chunk with a
    missing file is regenerated whole (same seed, same images)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    root = Path(outdir)
    jobs = []
    for start, stop, chunk_seed in chunk_seeds(len(prompts), seed, batch_size):
        chunk = prompts[start:stop]
        outputs = tuple(image_path(root, p) for p in chunk)
        jobs.append(
            GenerationJob(
                tuple(p.prompt for p in chunk), chunk_seed, outputs, one_per_prompt(outputs),
            )
        )
    return run_jobs(generator, jobs, nfe, desc="digits", progress=progress)
