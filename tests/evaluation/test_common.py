"""Shared pieces: result type, aggregation helpers, default paths, image checks, grids."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from evaluation import BenchmarkInputError, BenchmarkResult, default_benchmark_root
from evaluation.images import check_batch, make_grid_2x2, split_grid_2x2
from evaluation.paths import repo_root
from evaluation.result import group_mean, mean, weighted_sum


def test_result_json_and_metrics(tmp_path):
    result = BenchmarkResult("geneval", 0.5, {"two object": 0.25}, [{"a": np.float32(1.5)}],
                             {"path": tmp_path})
    data = json.loads(result.to_json())
    assert data["per_item"] == [{"a": 1.5}] and data["meta"]["path"] == str(tmp_path)
    assert result.flat_metrics() == {"geneval/overall": 0.5, "geneval/two_object": 0.25}
    saved = result.save(tmp_path / "r" / "geneval.json")
    assert json.loads(saved.read_text())["overall"] == 0.5


def test_aggregation_helpers():
    assert math.isnan(mean([]))
    assert group_mean([("a", 1), ("b", 0), ("a", 0)]) == {"a": 0.5, "b": 0.0}
    assert weighted_sum({"a": 1.0, "b": 0.5}, {"a": 0.4, "b": 0.6}) == pytest.approx(0.7)
    with pytest.raises(KeyError):
        weighted_sum({"a": 1.0}, {"a": 0.5, "b": 0.5})


def test_default_benchmark_root(monkeypatch, tmp_path):
    monkeypatch.delenv("TWINFLOW_BENCHMARKS", raising=False)
    assert default_benchmark_root() == repo_root().parent / "shared" / "benchmarks"
    monkeypatch.setenv("TWINFLOW_BENCHMARKS", str(tmp_path))
    assert default_benchmark_root() == tmp_path


def test_check_batch_and_grid():
    with pytest.raises(BenchmarkInputError, match="uint8"):
        check_batch(np.zeros((2, 4, 4, 3), np.float32), 2)
    with pytest.raises(BenchmarkInputError, match=r"expected \(3, H, W, C\)"):
        check_batch(np.zeros((2, 4, 4, 3), np.uint8), 3)
    tiles = np.arange(4, dtype=np.uint8).reshape(4, 1, 1, 1).repeat(2, 1).repeat(3, 2)
    grid = make_grid_2x2(tiles)
    assert grid.shape == (4, 6, 1) and grid[0, 0, 0] == 0 and grid[0, 3, 0] == 1
    assert grid[2, 0, 0] == 2 and grid[3, 5, 0] == 3
    assert all((a == b).all() for a, b in zip(split_grid_2x2(grid), tiles, strict=True))
