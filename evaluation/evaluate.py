"""One benchmark at one NFE: run it, then write `result.json` and a per-tag `grid.png`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluation.benchmarks.base import Benchmark
from evaluation.benchmarks.subset import PromptSubset
from evaluation.generator import ImageGenerator
from evaluation.grids import tags_grid
from evaluation.images import save_png
from evaluation.result import BenchmarkResult


@dataclass(frozen=True)
class Evaluation:
    """The result of `bench` at `nfe`, where its files are, and the sample files per tag."""

    bench: str
    nfe: int
    result: BenchmarkResult
    outdir: Path
    result_path: Path
    grid_path: Path | None
    samples: dict[str, list[str]] = field(default_factory=dict)


def per_tag_table(result: BenchmarkResult) -> dict[str, list[Any]]:
    """Columns `tag`, `score` (overall first), e.g. for MLflow `log_table`."""
    tags = ["overall", *result.per_tag]
    scores = [float(result.overall), *(float(v) for v in result.per_tag.values())]
    return {"tag": tags, "score": scores}


def evaluate(
    bench: Benchmark,
    generator: ImageGenerator,
    outdir: str | os.PathLike[str],
    nfe: int,
    subset: PromptSubset | None = None,
    seed: int = 0,
    per_group: int = 8,
    progress: bool = True,
) -> Evaluation:
    """`bench.run(...)` into `outdir` (resumable), then `outdir/result.json` and `outdir/grid.png`
    (one row of up to `per_group` samples per tag)."""
    root = Path(outdir)
    result = bench.run(generator, root, nfe, subset, seed, progress)
    result_path = result.save(root / "result.json")
    groups = bench.sample_groups(root, bench.select(subset), per_group)
    grid_path = None
    if any(groups.values()):
        grid_path = root / "grid.png"
        save_png(tags_grid(groups, scale=2 if _small(groups) else 1), grid_path)
    samples = {tag: [str(p) for p in paths] for tag, paths in groups.items() if paths}
    return Evaluation(bench.name, int(nfe), result, root, result_path, grid_path, samples)


def _small(groups: dict[str, list[Path]]) -> bool:
    from PIL import Image

    first = next(p for paths in groups.values() for p in paths)
    with Image.open(first) as img:
        return max(img.size) < 64
