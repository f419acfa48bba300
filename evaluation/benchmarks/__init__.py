"""Benchmarks behind one interface (`Benchmark`), for `evaluation.run` and `BenchmarkCallback`.

Each benchmark takes its judges as objects or as local paths (loaded on first use), checks
its inputs in `validate()` before any expensive work, and writes resumable image folders.
"""

from evaluation.benchmarks.base import Benchmark
from evaluation.benchmarks.digits import DigitsBenchmark
from evaluation.benchmarks.diversity import DiversityBenchmark
from evaluation.benchmarks.dpg import DPGBenchmark
from evaluation.benchmarks.geneval import GenEvalBenchmark
from evaluation.benchmarks.subset import PromptSubset
from evaluation.benchmarks.wise import WiseBenchmark

BENCHMARKS: dict[str, type[Benchmark]] = {
    "digits": DigitsBenchmark,
    "geneval": GenEvalBenchmark,
    "dpg": DPGBenchmark,
    "wise": WiseBenchmark,
    "diversity": DiversityBenchmark,
}

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "DPGBenchmark",
    "DigitsBenchmark",
    "DiversityBenchmark",
    "GenEvalBenchmark",
    "PromptSubset",
    "WiseBenchmark",
]
