"""Benchmark generation and scoring for TwinFlow: GenEval, DPG-Bench, WISE and diversity.

Each benchmark has a reader (prompt files by path), a generation step that writes the
upstream folder layout through an `ImageGenerator`, pure scoring rules, judge protocols and
transformers-based judges loaded from local paths. Every scorer returns a `BenchmarkResult`.
"""

from evaluation.errors import BenchmarkInputError
from evaluation.generator import ImageGenerator
from evaluation.paths import default_benchmark_root
from evaluation.result import BenchmarkResult

__all__ = ["BenchmarkInputError", "BenchmarkResult", "ImageGenerator", "default_benchmark_root"]
