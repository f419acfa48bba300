"""Benchmark generation and scoring for TwinFlow: digits, GenEval, DPG-Bench, WISE, diversity.

Each benchmark has a reader (prompt files by path), a generation step that writes the
upstream folder layout through an `ImageGenerator`, pure scoring rules, judge protocols and
transformers-based judges loaded from local paths. Every scorer returns a `BenchmarkResult`.

Entry points: `evaluation.benchmarks` (one `Benchmark` interface over all five),
`evaluation.module_generator.ModuleGenerator` (a TwinFlow model as an `ImageGenerator`),
`evaluation.callbacks.BenchmarkCallback` (Lightning) and `python -m evaluation.run` (CLI).
"""

from evaluation.errors import BenchmarkInputError
from evaluation.generator import ImageGenerator
from evaluation.paths import default_benchmark_root
from evaluation.result import BenchmarkResult

__all__ = ["BenchmarkInputError", "BenchmarkResult", "ImageGenerator", "default_benchmark_root"]
