"""The `Benchmark` adapters of GenEval and WISE with stand-in judges; grids and the report."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import FakeGenerator

from evaluation.benchmarks import GenEvalBenchmark, PromptSubset, WiseBenchmark
from evaluation.errors import BenchmarkInputError
from evaluation.evaluate import Evaluation, evaluate, per_tag_table
from evaluation.geneval import Detection
from evaluation.grids import png_bytes, row_grid, tags_grid
from evaluation.images import save_png
from evaluation.report import nfe_plot, render_report, series
from evaluation.result import BenchmarkResult


class SeesOneObject:
    """Detects exactly one confident object of `cls` in every image."""

    name = "stub-detector"

    def __init__(self, cls: str) -> None:
        self.cls = cls

    def detect(self, images):
        return [[Detection(self.cls, 0.99, (0.0, 0.0, 8.0, 8.0), None)] for _ in images]


class AlwaysRed:
    name = "stub-colors"

    def classify(self, crops, class_name):
        return ["red"] * len(crops)


def test_geneval_benchmark_subset_and_scoring(tmp_path, benchmark_root):
    from evaluation.geneval import load_geneval_prompts

    prompts = [p for p in load_geneval_prompts(benchmark_root) if p.tag == "single_object"][:3]
    wanted = prompts[0].include[0].cls
    bench = GenEvalBenchmark(prompts_path=str(benchmark_root), n_samples=2,
                             detector=SeesOneObject(wanted), color_classifier=AlwaysRed())
    ids = [str(p.index) for p in prompts]
    subset = PromptSubset.of(ids=ids)
    ev = evaluate(bench, FakeGenerator(16, 1), tmp_path, nfe=1, subset=subset, per_group=2,
                  progress=False)
    result = ev.result
    expected = np.mean([p.include[0].cls == wanted for p in prompts])
    assert 0 < expected < 1  # the stub detector satisfies some prompts, not all
    assert result.overall == pytest.approx(expected) and list(result.per_tag) == ["single_object"]
    assert result.meta["images"] == 6 and result.meta["subset"] == f"ids={ids}"
    assert ev.grid_path.is_file() and list(ev.samples) == ["single_object"]
    # Images of an earlier, larger subset in the same folder are not scored again.
    smaller = bench.run(FakeGenerator(16, 1), tmp_path, 1, PromptSubset.of(ids=ids[:1]),
                        progress=False)
    assert smaller.meta["images"] == 2 and smaller.meta["images_generated"] == 0


def test_geneval_needs_both_judges(tmp_path, benchmark_root):
    bench = GenEvalBenchmark(detector_path=str(tmp_path), prompts_path=str(benchmark_root))
    with pytest.raises(BenchmarkInputError, match="pass --clip-path"):
        bench.validate()


class FixedWiseJudge:
    name = "stub-wise"

    def judge(self, image, prompt, protocol):
        return "Consistency: 2\nRealism: 1\nAesthetic Quality: 0"


def test_wise_benchmark_on_a_subset_with_judge_cache(tmp_path, benchmark_root):
    bench = WiseBenchmark(judge=FixedWiseJudge(), prompts_path=str(benchmark_root))
    subset = PromptSubset.of(ids=[1, 2, 450])
    result = bench.run(FakeGenerator(16, 3), tmp_path, 2, subset, progress=False)
    assert result.per_tag == pytest.approx({"cultural": 0.8, "time": 0.8})
    assert result.overall == pytest.approx(0.8) and result.meta["images"] == 3
    cache = (tmp_path / "judge_legacy.jsonl").read_text().splitlines()
    assert len(cache) == 3
    with pytest.raises(BenchmarkInputError, match="--wise-model"):
        WiseBenchmark(openai_url="http://localhost:1", prompts_path=str(benchmark_root)).validate()


def fake_eval(tmp_path, nfe: int, overall: float, fd: float) -> Evaluation:
    paths = []
    for i in range(3):
        path = tmp_path / f"n{nfe}_{i}.png"
        save_png(np.full((10, 12, 1), 40 * i, np.uint8), path)
        paths.append(str(path))
    result = BenchmarkResult("digits", overall, {"digit_0": overall, "digit_1": 0.0}, [],
                             {"metrics": {"accuracy": overall, "fd": fd}, "judge": "j"})
    return Evaluation("digits", nfe, result, tmp_path, tmp_path / "r.json", None,
                      {"digit_0": paths[:2], "digit_1": paths[2:]})


def test_report_tables_plot_and_grids(tmp_path):
    evals = [fake_eval(tmp_path, 4, 0.5, 30.0), fake_eval(tmp_path, 1, 0.25, 90.0)]
    assert series(evals) == {"overall": [(1, 0.25), (4, 0.5)], "fd": [(1, 90.0), (4, 30.0)]}
    assert nfe_plot({"digits": evals}).startswith(b"\x89PNG")
    html = render_report("t <b>", {"digits": evals}, {"model": "m"})
    assert "t &lt;b&gt;" in html and "<th>NFE 1</th><th>NFE 4</th>" in html
    assert "<tr><td>fd</td><td>90</td><td>30</td></tr>" in html
    assert "<tr><td>digit_0</td><td>0.25</td><td>0.5</td></tr>" in html
    assert len(re.findall(r"data:image/png;base64,", html)) == 1 + 2 * 2
    assert per_tag_table(evals[0].result) == {"tag": ["overall", "digit_0", "digit_1"],
                                              "score": [0.5, 0.5, 0.0]}


def test_grids(tmp_path):
    paths = [tmp_path / f"{i}.png" for i in range(3)]
    for i, p in enumerate(paths):
        save_png(np.full((6, 5, 3), i, np.uint8), p)
    row = row_grid(paths[:2], columns=3)
    assert row.shape == (6 + 4, 3 * (5 + 2) + 2, 3)
    grid = tags_grid({"a": paths[:2], "b": paths[2:], "empty": []})
    assert grid.shape == (2 * (6 + 4), 2 * (5 + 2) + 2, 3)
    assert png_bytes(grid).startswith(b"\x89PNG")
    save_png(np.zeros((4, 4, 3), np.uint8), tmp_path / "odd.png")
    with pytest.raises(BenchmarkInputError, match="differ in shape"):
        row_grid([paths[0], tmp_path / "odd.png"])
