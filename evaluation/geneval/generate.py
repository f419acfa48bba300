"""Write GenEval images in the upstream layout:
`<outdir>/<%05d>/metadata.jsonl` (the metadata row) and `<outdir>/<%05d>/samples/<%04d>.png`."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np

from evaluation.generation import (
    GenerationJob,
    GenerationReport,
    one_per_prompt,
    prompt_seed,
    run_jobs,
)
from evaluation.generator import ImageGenerator
from evaluation.geneval.prompts import GenEvalPrompt


def prompt_dir(outdir: Path, index: int) -> Path:
    return outdir / f"{index:05d}"


def sample_paths(outdir: Path, index: int, n_samples: int) -> tuple[Path, ...]:
    samples = prompt_dir(outdir, index) / "samples"
    return tuple(samples / f"{j:04d}.png" for j in range(n_samples))


def _write(
    meta: dict, outputs: tuple[Path, ...], images: np.ndarray, missing: Sequence[Path]
) -> None:
    one_per_prompt(outputs)(images, missing)
    # Upstream's metadata.jsonl holds exactly one JSON line: the prompt's metadata row.
    (outputs[0].parent.parent / "metadata.jsonl").write_text(json.dumps(meta) + "\n", "utf-8")


def generate_geneval(
    generator: ImageGenerator,
    prompts: Sequence[GenEvalPrompt],
    outdir: str | os.PathLike[str],
    nfe: int,
    seed: int = 0,
    n_samples: int = 4,
    progress: bool = True,
) -> GenerationReport:
    """Generate `n_samples` images per prompt, one generator call per prompt (batch = N).

    Prompt i uses seed `seed + i`, so an image depends only on (prompt, seed, N), never on
    which other prompts ran; existing PNGs are kept (resumable).
    """
    root = Path(outdir)
    jobs = []
    for p in prompts:
        outputs = sample_paths(root, p.index, n_samples)
        jobs.append(
            GenerationJob(
                prompts=(p.prompt,) * n_samples,
                seed=prompt_seed(seed, p.index),
                outputs=outputs,
                write=partial(_write, p.raw, outputs),
            )
        )
    return run_jobs(generator, jobs, nfe, desc="geneval", progress=progress)
