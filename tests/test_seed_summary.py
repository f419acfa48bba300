"""The recipe sweep's seed-aware summary (benchmarks/seed_summary.py), on hand-made scores."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from seed_summary import compare, markdown, original_nfe, relative  # noqa: E402


def scores(fd: float, pixel: float, recall: float, fd2: float = 10.0, acc: float = 0.9) -> dict:
    return {"fd": fd, "fd_judge2": fd2, "fd_pixel": pixel, "recall": recall, "accuracy": acc}


# The original: at NFE 32 the tuned FD averages 10 over the two sampling seeds, at 64 it
# averages 11, so 32 is its NFE even though 64 wins on seed "2".
ORIGINAL = {"1": {"32": scores(8.0, 2.0, 0.90), "64": scores(12.0, 1.0, 0.99)},
            "2": {"32": scores(12.0, 1.0, 0.80), "64": scores(10.0, 9.0, 0.50)}}


def test_the_original_nfe_is_the_best_mean_tuned_fd():
    assert original_nfe(ORIGINAL) == "32"
    with pytest.raises(ValueError, match="no scores common to all its sampling seeds"):
        original_nfe({})


def test_each_sampling_seed_is_compared_with_the_original_on_the_same_seed():
    row = {"1": {"1": scores(16.0, 3.0, 0.85, fd2=5.0, acc=0.8)},
           "2": {"1": scores(12.0, 3.0, 0.80, fd2=20.0, acc=1.0)}}
    got = relative(row, ORIGINAL, "32")["1"]
    assert got["fd_ratio"] == pytest.approx((16 / 8 + 12 / 12) / 2)  # 1.5, not 28 / 20
    assert got["fd_pixel_ratio"] == pytest.approx((3 / 2 + 3 / 1) / 2)
    assert got["fd_judge2_ratio"] == pytest.approx((5 / 10 + 20 / 10) / 2)
    assert got["recall_diff"] == pytest.approx(((0.85 - 0.90) + (0.80 - 0.80)) / 2)
    assert got["accuracy"] == pytest.approx(0.9)


def test_a_sampling_seed_the_original_lacks_is_refused():
    with pytest.raises(ValueError, match=r"sampling seed\(s\) \['3'\].*--score-seeds"):
        relative({"3": {"1": scores(1.0, 1.0, 1.0)}}, ORIGINAL, "32")


def _row(variant: str, seed: int, fd: float) -> dict:
    """A row whose 1-NFE tuned-FD ratio is ``fd / 10`` (on both sampling seeds)."""
    return {"variant": variant, "seed": seed,
            "scores": {q: {"1": scores(fd * ORIGINAL[q]["32"]["fd"] / 10, 2.0, 0.9)}
                       for q in ("1", "2")}}


def test_spread_over_training_seeds_and_the_paired_difference():
    rows = [_row("current", 0, 10.0), _row("current", 1, 14.0), _row("current", 2, 12.0),
            _row("other", 0, 9.0), _row("other", 1, 13.0), _row("other", 3, 30.0)]
    result = compare(rows, ORIGINAL)
    cur = result["variants"]["current"]["1"]["fd_ratio"]
    assert cur["mean"] == pytest.approx(1.2) and cur["sd"] == pytest.approx(0.2)
    assert cur["n"] == 3 and cur["seeds"] == [0, 1, 2] and "diff" not in cur
    other = result["variants"]["other"]["1"]["fd_ratio"]
    assert other["mean"] == pytest.approx((0.9 + 1.3 + 3.0) / 3)
    # paired on seeds 0 and 1 only (seed 3 has no partner): both differences are -0.1
    assert other["n_paired"] == 2
    assert other["diff"] == pytest.approx(-0.1) and other["se"] == pytest.approx(0.0, abs=1e-12)
    table = markdown(result)
    assert "| other | 0,1,3 | 1.733 ± 1.115 [-0.100 ± 0.000]" in table
    assert "| current | 0,1,2 | 1.200 ± 0.200 |" in table


def test_one_seed_has_no_spread_and_one_pair_no_standard_error():
    result = compare([_row("current", 0, 10.0), _row("other", 0, 11.0)], ORIGINAL)
    cur, other = (result["variants"][v]["1"]["fd_ratio"] for v in ("current", "other"))
    assert math.isnan(cur["sd"]) and other["diff"] == pytest.approx(0.1)
    assert math.isnan(other["se"])
    table = markdown(result)
    assert "| current | 0 | 1.000 | 1.000 |" in table
    assert "| other | 0 | 1.100 [+0.100] | 1.000 [+0.000] |" in table
