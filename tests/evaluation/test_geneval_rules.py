"""GenEval rules on synthetic detections: thresholds, counting, colours, positions, tags."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation.geneval.judges import CROP_BACKGROUND, masked_crop
from evaluation.geneval.prompts import parse_row
from evaluation.geneval.rules import Detection, evaluate, keep_detections, relative_position
from evaluation.geneval.score import summarize


def det(cls: str, score: float = 0.95, box=(0, 0, 10, 10), color: str | None = None) -> Detection:
    # `fake_colors` looks the requested colour up by object identity.
    d = Detection(cls, score, tuple(map(float, box)))
    if color is not None:
        _COLORS[id(d)] = color
    return d


_COLORS: dict[int, str] = {}


def fake_colors(objs, cls):
    return [_COLORS.get(id(o), "white") for o in objs]


def no_colors(objs, cls):
    raise AssertionError("colour classifier must not be called")


def judge(row: dict, dets: list[Detection]) -> bool:
    prompt = parse_row(row, 0)
    return evaluate(prompt, keep_detections(dets, prompt.tag), fake_colors).correct


def counting(n: int) -> dict:
    return {"tag": "counting", "prompt": "p", "include": [{"class": "clock", "count": n}],
            "exclude": [{"class": "clock", "count": n + 1}]}


def test_threshold_is_strict_and_counting_uses_0_9():
    single = {"tag": "single_object", "prompt": "p", "include": [{"class": "cow", "count": 1}]}
    assert judge(single, [det("cow", 0.31)])
    assert not judge(single, [det("cow", 0.3)])
    assert not judge(counting(2), [det("clock", 0.95), det("clock", 0.9)])
    assert judge(counting(2), [det("clock", 0.95), det("clock", 0.91), det("clock", 0.89)])


@pytest.mark.parametrize("found,ok", [(1, False), (2, True), (3, False), (5, False)])
def test_counting_means_exactly_n(found, ok):
    assert judge(counting(2), [det("clock", 0.99) for _ in range(found)]) is ok


def test_other_classes_do_not_count_and_cap_is_16():
    assert judge(counting(3), [det("clock")] * 3 + [det("dog")] * 4)
    kept = keep_detections([det("dog", 0.5 + i / 100) for i in range(20)], "single_object")
    assert len(kept["dog"]) == 16 and kept["dog"][0].score == pytest.approx(0.69)
    # The exclusion sees the capped list: 20 detections count as 16 (< 17 passes).
    row = {"tag": "two_object", "prompt": "p", "include": [{"class": "dog", "count": 1}],
           "exclude": [{"class": "dog", "count": 17}]}
    assert judge(row, [det("dog", 0.9) for _ in range(20)])


def test_colors_checked_on_most_confident_objects_only():
    row = {"tag": "colors", "prompt": "p",
           "include": [{"class": "car", "count": 1, "color": "red"}]}
    assert judge(row, [det("car", 0.9, color="red"), det("car", 0.5, color="blue")])
    assert not judge(row, [det("car", 0.9, color="blue"), det("car", 0.5, color="red")])
    two = {"tag": "color_attr", "prompt": "p", "include": [
        {"class": "car", "count": 1, "color": "red"},
        {"class": "bus", "count": 1, "color": "green"}]}
    assert judge(two, [det("car", color="red"), det("bus", color="green")])
    assert not judge(two, [det("car", color="red"), det("bus", color="pink")])
    plain = {"tag": "colors", "prompt": "p", "include": [{"class": "car", "count": 1}]}
    prompt = parse_row(plain, 0)
    assert evaluate(prompt, keep_detections([det("car")], "colors"), no_colors).correct


def test_relative_position_directions():
    b = (40, 40, 60, 60)
    assert relative_position((0, 40, 20, 60), b) == {"left of"}
    assert relative_position((80, 40, 100, 60), b) == {"right of"}
    assert relative_position((40, 0, 60, 20), b) == {"above"}
    assert relative_position((40, 80, 60, 100), b) == {"below"}
    assert relative_position((0, 0, 20, 20), b) == {"left of", "above"}
    assert relative_position(b, b) == set()


def test_position_margin():
    # Both boxes 10 wide: margin = 0.1 * (10 + 10) = 2 px of centre offset is absorbed.
    b = (0, 0, 10, 10)
    assert relative_position((2, 0, 12, 10), b) == set()  # offset 2 -> shrunk to 0
    # Offset 4 -> (4 - 2) / 4 = 0.5, not > 0.5; offset 5 -> 3 / 5 = 0.6.
    assert relative_position((4, 0, 14, 10), b) == set()
    assert relative_position((5, 0, 15, 10), b) == {"right of"}
    assert relative_position((-5, 0, 5, 10), b) == {"left of"}
    # Diagonal: offset (5, 4), margin 2 -> (3, 2) / |(5, 4)| = (0.47, 0.31): no relation.
    assert relative_position((5, 4, 15, 14), b) == set()
    # offset (8, 3): (6, 1) / 8.54 = (0.70, 0.12): right of only.
    assert relative_position((8, 3, 18, 13), b) == {"right of"}
    assert (8 - 2) / math.hypot(8, 3) > 0.5 > (3 - 2) / math.hypot(8, 3)
    assert relative_position((5, 0, 15, 10), b, margin=0.2) == set()  # (5 - 4) / 5 = 0.2


def test_position_rule_every_pair_and_unmatched_target():
    row = {"tag": "position", "prompt": "p", "include": [
        {"class": "teddy bear", "count": 1},
        {"class": "dog", "count": 1, "position": ["right of", 0]}]}
    bear, dog_right, dog_left = (0, 0, 10, 10), (50, 0, 60, 10), (-50, 0, -40, 10)
    assert judge(row, [det("teddy bear", box=bear), det("dog", box=dog_right)])
    assert not judge(row, [det("teddy bear", box=bear), det("dog", box=dog_left)])
    assert not judge(row, [det("dog", box=dog_right)])  # no target group
    # Only the most confident dog is checked.
    assert judge(row, [det("teddy bear", box=bear), det("dog", 0.9, dog_right),
                       det("dog", 0.8, dog_left)])


def test_aggregation_mean_over_tags():
    records = [
        {"index": 0, "tag": "single_object", "correct": True},
        {"index": 0, "tag": "single_object", "correct": False},
        {"index": 1, "tag": "single_object", "correct": True},
        {"index": 1, "tag": "single_object", "correct": True},
        {"index": 2, "tag": "counting", "correct": False},
        {"index": 2, "tag": "counting", "correct": False},
    ]
    result = summarize(records, {})
    assert result.per_tag == {"single_object": 0.75, "counting": 0.0}
    assert result.overall == pytest.approx(0.375)  # not the image mean 0.5
    assert result.meta["image_accuracy"] == pytest.approx(0.5)
    assert result.meta["prompt_accuracy"] == pytest.approx(2 / 3)


def test_masked_crop_uses_grey_background():
    image = np.full((8, 8, 3), 200, np.uint8)
    mask = np.zeros((8, 8), bool)
    mask[2:4, 2:4] = True
    crop = masked_crop(image, Detection("x", 1.0, (1.0, 1.0, 5.0, 5.0), mask))
    assert crop.shape == (4, 4, 3)
    assert (crop[1:3, 1:3] == 200).all() and tuple(crop[0, 0]) == CROP_BACKGROUND
