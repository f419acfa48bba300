"""GenEval reader on the shared file, generation layout/resume, tiny HF judges end to end."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from evaluation.errors import BenchmarkInputError
from evaluation.geneval import (
    ClipColorClassifier,
    Mask2FormerDetector,
    generate_geneval,
    load_geneval_prompts,
    score_geneval,
)
from evaluation.geneval.prompts import load_object_names, parse_row


def test_reader_counts(benchmark_root):
    prompts = load_geneval_prompts(benchmark_root)
    assert len(prompts) == 553 and [p.index for p in prompts] == list(range(553))
    assert Counter(p.tag for p in prompts) == {
        "single_object": 80, "two_object": 99, "counting": 80,
        "colors": 94, "position": 100, "color_attr": 100,
    }
    counting = [p for p in prompts if p.tag == "counting"]
    assert all(p.exclude[0].count == p.include[0].count + 1 for p in counting)
    assert len(load_object_names(benchmark_root)) == 80


@pytest.mark.parametrize(
    "row,needle",
    [
        ({"tag": "nope", "prompt": "p", "include": [{"class": "a", "count": 1}]}, "unknown tag"),
        ({"tag": "colors", "prompt": "p", "include": []}, "non-empty"),
        ({"tag": "colors", "prompt": "p", "include": [{"class": "a", "count": 0}]}, "count"),
        ({"tag": "colors", "prompt": "p", "include": [{"class": "a", "count": 1, "color": "teal"}]},
         "unknown color"),
        ({"tag": "position", "prompt": "p",
          "include": [{"class": "a", "count": 1, "position": ["above", 0]}]}, "earlier include"),
    ],
)
def test_malformed_rows_raise(row, needle):
    with pytest.raises(BenchmarkInputError, match=needle):
        parse_row(row, 0)


def test_missing_file_and_bad_json(tmp_path):
    with pytest.raises(BenchmarkInputError, match="not found"):
        load_geneval_prompts(tmp_path / "nothing.jsonl")
    bad = tmp_path / "m.jsonl"
    bad.write_text('{"tag": "colors"\n')
    with pytest.raises(BenchmarkInputError, match=r"m.jsonl:1: invalid JSON"):
        load_geneval_prompts(bad, expect_rows=None)


def _subset(benchmark_root, tags=("single_object", "position", "color_attr", "counting")):
    prompts = load_geneval_prompts(benchmark_root)
    return [next(p for p in prompts if p.tag == tag) for tag in tags]


def test_generation_layout_and_resume(benchmark_root, fake_generator, tmp_path):
    subset = _subset(benchmark_root)
    report = generate_geneval(fake_generator, subset, tmp_path, nfe=2, seed=10, progress=False)
    assert report.jobs_run == 4 and report.images_generated == 16
    first = subset[0]
    folder = tmp_path / f"{first.index:05d}"
    assert json.loads((folder / "metadata.jsonl").read_text()) == first.raw
    assert sorted(p.name for p in (folder / "samples").iterdir()) == [
        "0000.png", "0001.png", "0002.png", "0003.png"]
    assert fake_generator.calls[0] == ([first.prompt] * 4, 2, 10 + first.index)
    before = (folder / "samples" / "0001.png").read_bytes()
    (folder / "samples" / "0002.png").unlink()
    report = generate_geneval(fake_generator, subset, tmp_path, nfe=2, seed=10, progress=False)
    assert (report.jobs_run, report.jobs_skipped) == (1, 3)
    assert (folder / "samples" / "0002.png").is_file()
    assert (folder / "samples" / "0001.png").read_bytes() == before


def test_tiny_judges_end_to_end(benchmark_root, fake_generator, tmp_path, tiny_mask2former_dir,
                                tiny_clip_dir):
    subset = _subset(benchmark_root)
    generate_geneval(fake_generator, subset, tmp_path, nfe=1, n_samples=2, progress=False)
    detector = Mask2FormerDetector(tiny_mask2former_dir, class_names=["dog", "cat", "car"])
    images = [np.zeros((16, 24, 3), np.uint8), np.full((16, 24, 3), 255, np.uint8)]
    dets = detector.detect(images)
    assert len(dets) == 2
    for d in dets[0]:
        assert d.mask.shape == (16, 24) and d.mask.dtype == bool and 0 <= d.score <= 1
        assert 0 <= d.box[0] < d.box[2] <= 24 and 0 <= d.box[1] < d.box[3] <= 16
    colors = ClipColorClassifier(tiny_clip_dir, batch_size=2)
    names = colors.classify([np.zeros((5, 7, 3), np.uint8)] * 3, "dog")
    assert len(names) == 3 and set(names) <= set(colors.colors)
    assert colors.head("dog").shape == (10, 16)
    result = score_geneval(tmp_path, detector, colors, batch_size=3, progress=False)
    assert result.meta["images"] == 8 and set(result.per_tag) == {
        "single_object", "position", "color_attr", "counting"}
    assert 0.0 <= result.overall <= 1.0
    assert json.loads(result.to_json())["name"] == "geneval"


def test_judge_paths_must_exist(tmp_path):
    with pytest.raises(BenchmarkInputError, match="not found"):
        Mask2FormerDetector(tmp_path / "none")
    with pytest.raises(BenchmarkInputError, match="not found"):
        ClipColorClassifier(tmp_path / "none")


class ScriptedDetector:
    """Finds every class of the prompt's include clauses once, left to right, full mask."""

    name = "scripted"

    def __init__(self, classes):
        self.classes, self.batches = classes, []

    def detect(self, images):
        from evaluation.geneval.rules import Detection

        self.batches.append(len(images))
        out = []
        for image in images:
            h, w = image.shape[:2]
            mask = np.ones((h, w), bool)
            out.append([Detection(c, 0.95, (i * 4.0, 0.0, i * 4.0 + 2, 2.0), mask)
                        for i, c in enumerate(self.classes)])
        return out


class RedClassifier:
    name = "always-red"

    def __init__(self):
        self.crop_shapes = []

    def classify(self, crops, class_name):
        self.crop_shapes.extend(c.shape for c in crops)
        return ["red"] * len(crops)


def test_folder_scoring_glue(fake_generator, tmp_path):
    rows = [
        {"tag": "colors", "prompt": "a red car", "include": [{"class": "car", "count": 1,
                                                              "color": "red"}]},
        {"tag": "position", "prompt": "a bus right of a car", "include": [
            {"class": "car", "count": 1}, {"class": "bus", "count": 1,
                                           "position": ["right of", 0]}]},
        {"tag": "counting", "prompt": "two cars", "include": [{"class": "car", "count": 2}],
         "exclude": [{"class": "car", "count": 3}]},
    ]
    prompts = [parse_row(r, i) for i, r in enumerate(rows)]
    generate_geneval(fake_generator, prompts, tmp_path, nfe=1, n_samples=2, progress=False)
    detector, colors = ScriptedDetector(["car", "bus"]), RedClassifier()
    result = score_geneval(tmp_path, detector, colors, batch_size=4, progress=False)
    assert detector.batches == [4, 2]
    assert result.per_tag == {"colors": 1.0, "position": 1.0, "counting": 0.0}
    assert result.overall == pytest.approx(2 / 3)
    assert colors.crop_shapes == [(2, 2, 3), (2, 2, 3)]
    assert "expected car>=2, found 1" in result.per_item[-1]["reason"]
