"""Scalar metrics of a `BenchmarkResult` for loggers: overall, per-tag and named extras."""

from __future__ import annotations

import math

from evaluation.result import BenchmarkResult


def extra_metrics(result: BenchmarkResult) -> dict[str, float]:
    """Named scalars a scorer puts in `meta["metrics"]` (digits: accuracy, fd, diversity)."""
    extra = result.meta.get("metrics") or {}
    return {str(k): float(v) for k, v in extra.items() if isinstance(v, (int, float))}


def scalar_metrics(result: BenchmarkResult, prefix: str) -> dict[str, float]:
    """`{"<prefix>/overall": x, "<prefix>/<tag>": y, "<prefix>/<extra>": z}`, finite values only
    (an empty tag is NaN in a result and is left out rather than logged as a number)."""
    out = result.flat_metrics(prefix)
    for key, value in extra_metrics(result).items():
        out.setdefault(f"{prefix}/{key}", value)
    return {k: v for k, v in out.items() if math.isfinite(v)}


def metric_prefix(bench: str, nfe: int) -> str:
    """The metric namespace of one benchmark at one NFE: `<bench>/nfe<k>`."""
    return f"{bench}/nfe{int(nfe)}"
