"""Write WISE images: one image per prompt, `<outdir>/<prompt_id>.png`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from evaluation.generation import (
    GenerationJob,
    GenerationReport,
    one_per_prompt,
    prompt_seed,
    run_jobs,
)
from evaluation.generator import ImageGenerator
from evaluation.wise.prompts import WisePrompt


def image_path(outdir: Path, prompt_id: int) -> Path:
    return outdir / f"{prompt_id}.png"


def generate_wise(
    generator: ImageGenerator,
    prompts: Sequence[WisePrompt],
    outdir: str | os.PathLike[str],
    nfe: int,
    seed: int = 0,
    batch_size: int = 8,
    progress: bool = True,
) -> GenerationReport:
    """Prompts are cut into fixed chunks of `batch_size` in list order; chunk j is one
    generator call with seed `seed + j`. Images therefore depend on `batch_size`: keep it
    fixed when resuming (existing PNGs are never rewritten)."""
    root = Path(outdir)
    jobs = []
    for j, start in enumerate(range(0, len(prompts), batch_size)):
        chunk = prompts[start : start + batch_size]
        outputs = tuple(image_path(root, p.prompt_id) for p in chunk)
        jobs.append(
            GenerationJob(
                tuple(p.prompt for p in chunk),
                prompt_seed(seed, j),
                outputs,
                one_per_prompt(outputs),
            )
        )
    return run_jobs(generator, jobs, nfe, desc="wise", progress=progress)
