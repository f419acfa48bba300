"""Write DPG-Bench images: 4 samples per prompt saved as one 2x2 grid `<outdir>/<item_id>.png`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np

from evaluation.dpg.prompts import DPGPrompt
from evaluation.generation import GenerationJob, GenerationReport, prompt_seed, run_jobs
from evaluation.generator import ImageGenerator
from evaluation.images import make_grid_2x2, save_png

TILES = 4


def _write_grid(path: Path, images: np.ndarray, missing: Sequence[Path]) -> None:
    save_png(make_grid_2x2(images), path)


def generate_dpg(
    generator: ImageGenerator,
    prompts: Sequence[DPGPrompt],
    outdir: str | os.PathLike[str],
    nfe: int,
    seed: int = 0,
    progress: bool = True,
) -> GenerationReport:
    """One generator call of 4 images per prompt; prompt i (list position) uses seed + i.

    Tiles go top-left, top-right, bottom-left, bottom-right; existing grids are skipped.
    """
    root = Path(outdir)
    jobs = []
    for i, p in enumerate(prompts):
        path = root / f"{p.item_id}.png"
        jobs.append(
            GenerationJob(
                (p.prompt,) * TILES, prompt_seed(seed, i), (path,), partial(_write_grid, path)
            )
        )
    return run_jobs(generator, jobs, nfe, desc="dpg", progress=progress)
