"""DPG-Bench: graph parsing, zeroing, aggregation, both compatibility modes, tiny judge."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from evaluation.dpg import (
    TransformersVQAJudge,
    exact_yes,
    generate_dpg,
    lenient_yes,
    load_dpg_graph,
    load_dpg_prompts,
    resolve_rule,
    score_dpg,
    score_item,
)
from evaluation.dpg.graph import COLUMNS
from evaluation.errors import BenchmarkInputError
from evaluation.images import load_rgb, split_grid_2x2

# item A: 1 entity, 2 attribute of 1, 3 relation of 1 and 2 (cascade test), 4 independent.
ROWS = [
    ("A", "1", "0", "entity", "whole", "entity - whole (cat)", "Is there a cat?"),
    ("A", "2", "1", "attribute", "color", "attribute - color (cat, black)", "Is the cat black?"),
    ("A", "3", "1,2", "relation", "spatial", "relation - spatial (cat, mat, on)", "On a mat?"),
    ("A", "4", "0", "entity", "whole", "entity - whole (dog)", "Is there a dog?"),
    ("B", "1", "0", "entity", "whole", "entity - whole (car)", "Is there a car?"),
    ("B", "2", "1", "attribute", "color", "attribute - color (car, red)", "Is the car red?"),
]


def write_csv(path: Path, rows=ROWS) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for item, qid, dep, broad, detailed, tup, question in rows:
            writer.writerow([item, "text", "kw", qid, dep, broad, detailed, tup, question])
    return path


def test_graph_parsing(tmp_path):
    graph = load_dpg_graph(write_csv(tmp_path / "g.csv"))
    assert list(graph) == ["A", "B"]
    a = graph["A"].questions
    assert [q.proposition_id for q in a] == [1, 2, 3, 4]
    assert a[0].parents == () and a[2].parents == (1, 2) and a[1].l2 == "attribute - color"
    skipped = load_dpg_graph(write_csv(tmp_path / "g.csv"), skip_first_row=True, validate=False)
    assert [q.proposition_id for q in skipped["A"].questions] == [2, 3, 4]


@pytest.mark.parametrize(
    "bad,needle",
    [
        (("A", "x", "0", "e", "w", "t", "q"), "not an integer"),
        (("A", "1", "1", "e", "w", "t", "q"), "depends on itself"),
        (("A", "1", "7", "e", "w", "t", "q"), "missing"),
    ],
)
def test_graph_validation(tmp_path, bad, needle):
    with pytest.raises(BenchmarkInputError, match=needle):
        load_dpg_graph(write_csv(tmp_path / "g.csv", [bad]))


def test_graph_cycle_and_missing_file(tmp_path):
    rows = [("A", "1", "2", "e", "w", "t", "q"), ("A", "2", "1", "e", "w", "t", "q")]
    with pytest.raises(BenchmarkInputError, match="cycle"):
        load_dpg_graph(write_csv(tmp_path / "g.csv", rows))
    with pytest.raises(BenchmarkInputError, match="dpg_bench.csv"):
        load_dpg_graph(tmp_path / "absent.csv")
    (tmp_path / "cols.csv").write_text("item_id,text\nA,t\n")
    with pytest.raises(BenchmarkInputError, match="missing columns"):
        load_dpg_graph(tmp_path / "cols.csv")


def test_zeroing_and_item_score(tmp_path):
    item = load_dpg_graph(write_csv(tmp_path / "g.csv"))["A"]
    yes_all = {1: True, 2: True, 3: True, 4: True}
    no_cat = {1: False, 2: True, 3: True, 4: True}  # zeroes 2 and 3 -> 1/4
    no_color = {1: True, 2: False, 3: True, 4: True}  # zeroes 3 (parent 2) -> 2/4
    result = score_item(item, [yes_all, no_cat, no_color, yes_all])
    assert result.tile_scores == (1.0, 0.25, 0.5, 1.0)
    assert result.score == pytest.approx(0.6875)
    assert len(result.category_samples) == 16
    assert ("attribute", "attribute - color", 0.0) in result.category_samples


def test_cascade_differs_from_upstream_order(tmp_path):
    # 1 depends on 2, listed first: the in-order pass reads 2 before 2 is zeroed by 3.
    rows = [("C", "1", "2", "e", "w", "e - w (a)", "q1"),
            ("C", "2", "3", "e", "w", "e - w (b)", "q2"),
            ("C", "3", "0", "e", "w", "e - w (c)", "q3")]
    item = load_dpg_graph(write_csv(tmp_path / "g.csv", rows))["C"]
    answers = [{1: True, 2: True, 3: False}]
    assert score_item(item, answers).score == 0.0
    assert score_item(item, answers, upstream_compat=True).score == pytest.approx(1 / 3)


def test_upstream_compat_categories_from_last_tile_before_zeroing(tmp_path):
    item = load_dpg_graph(write_csv(tmp_path / "g.csv"))["A"]
    first = {1: True, 2: True, 3: True, 4: True}
    last = {1: False, 2: True, 3: False, 4: True}
    result = score_item(item, [first, last], upstream_compat=True)
    assert result.tile_scores == (1.0, 0.25)
    assert result.category_samples == (
        ("entity", "entity - whole", 0.0), ("attribute", "attribute - color", 1.0),
        ("relation", "relation - spatial", 0.0), ("entity", "entity - whole", 1.0))


class ScriptedJudge:
    """Yes unless the question is in `no`, or the tile is dark and the question in `dark_no`."""

    name = "scripted"

    def __init__(self, no=(), dark_no=()):
        self.no, self.dark_no, self.calls = set(no), set(dark_no), 0

    def answer(self, images, questions):
        self.calls += 1
        return [q not in self.no and not (im.mean() < 128 and q in self.dark_no)
                for im, q in zip(images, questions, strict=True)]


class TwoTone:
    def generate(self, prompts, nfe, seed):
        shades = [0, 255, 0, 255]  # tiles 0 and 2 dark
        return np.stack([np.full((8, 8, 3), shades[i % 4], np.uint8) for i in range(len(prompts))])


def test_generation_grid_and_folder_scoring(tmp_path):
    from evaluation.dpg.prompts import DPGPrompt

    graph = load_dpg_graph(write_csv(tmp_path / "g.csv"))
    prompts = [DPGPrompt("A", "a cat"), DPGPrompt("B", "a car")]
    report = generate_dpg(TwoTone(), prompts, tmp_path / "img", nfe=1, progress=False)
    assert report.images_generated == 8
    tiles = split_grid_2x2(load_rgb(tmp_path / "img" / "A.png"))
    assert [int(t.mean()) for t in tiles] == [0, 255, 0, 255]
    judge = ScriptedJudge(no={"Is there a dog?"}, dark_no={"Is there a car?"})
    result = score_dpg(tmp_path / "img", graph, judge, batch_size=5, progress=False)
    # A: every tile 3/4. B: dark tiles 0/2 (car no -> red zeroed), light tiles 2/2 -> 0.5.
    assert result.per_item == [
        {"item_id": "A", "score": 75.0, "tile_scores": [0.75] * 4},
        {"item_id": "B", "score": 50.0, "tile_scores": [0.0, 1.0, 0.0, 1.0]}]
    assert result.overall == pytest.approx(62.5)
    assert result.per_tag["L1/entity"] == pytest.approx(100 * 6 / 12)
    assert result.per_tag["L2/attribute - color"] == pytest.approx(100 * 6 / 8)
    assert result.per_tag["L1/relation"] == 100.0
    compat = score_dpg(tmp_path / "img", graph, judge, upstream_compat=True, progress=False)
    assert compat.per_tag["L1/entity"] == pytest.approx(100 * 2 / 3)  # last tile is light
    (tmp_path / "img" / "Z.png").write_bytes((tmp_path / "img" / "A.png").read_bytes())
    with pytest.raises(BenchmarkInputError, match="no questions"):
        score_dpg(tmp_path / "img", graph, judge, progress=False)
    compat = score_dpg(tmp_path / "img", graph, judge, upstream_compat=True, progress=False)
    assert compat.meta["skipped_items"] == ["Z"] and compat.overall == pytest.approx(62.5)


def test_upstream_skipped_first_row_drops_item(tmp_path):
    graph = load_dpg_graph(write_csv(tmp_path / "g.csv"), skip_first_row=True, validate=False)
    from evaluation.dpg.prompts import DPGPrompt

    generate_dpg(TwoTone(), [DPGPrompt("A", "x"), DPGPrompt("B", "y")], tmp_path / "img", 1,
                 progress=False)
    result = score_dpg(tmp_path / "img", graph, ScriptedJudge(), upstream_compat=True,
                       progress=False)
    assert result.meta["skipped_items"] == ["A"]
    assert [r["item_id"] for r in result.per_item] == ["B"]


def test_prompts_load_with_counts(benchmark_root):
    from_jsonl = load_dpg_prompts(benchmark_root)
    from_folder = load_dpg_prompts(benchmark_root / "dpg_bench" / "prompts")
    assert len(from_jsonl) == 1065 and from_jsonl == from_folder
    assert from_jsonl[0].item_id == "0" and from_jsonl[298].item_id == "299"
    assert sum(p.item_id.isdigit() for p in from_jsonl) == 299


def test_tiny_vqa_judge(tiny_blip_vqa_dir):
    judge = TransformersVQAJudge(tiny_blip_vqa_dir, max_new_tokens=3)
    images = [np.zeros((20, 20, 3), np.uint8), np.full((20, 30, 3), 200, np.uint8)]
    raw = judge.raw_answers(images, ["is there a cat?", "is there a dog?"])
    assert len(raw) == 2 and all(isinstance(a, str) for a in raw)
    assert judge.answer_rule == "lenient"
    assert judge.answer(images, ["is there a cat?", "is there a dog?"]) == [
        a.strip().lower() == "yes" for a in raw]
    judge._is_yes = exact_yes  # the same model under the upstream rule
    assert judge.answer(images, ["is there a cat?", "is there a dog?"]) == [a == "yes" for a in raw]


def test_answer_rules_exact_is_upstream_lenient_is_named_and_reported(tmp_path):
    for answer, exact, lenient in [("yes", True, True), ("Yes", False, True),
                                   ("yes.", False, True), (" yes ", False, True),
                                   ("YES!", False, True), ("no", False, False),
                                   ("yes, a cat", False, False), ("", False, False)]:
        assert exact_yes(answer) is exact and lenient_yes(answer) is lenient, answer
    assert resolve_rule(None, upstream_compat=True) == "exact"
    assert resolve_rule(None, upstream_compat=False) == "lenient"
    assert resolve_rule("exact", upstream_compat=False) == "exact"
    with pytest.raises(BenchmarkInputError, match="upstream counts only the exact"):
        resolve_rule("lenient", upstream_compat=True)
    with pytest.raises(BenchmarkInputError, match="answer rule 'loose'"):
        resolve_rule("loose", upstream_compat=False)

    from evaluation.benchmarks.dpg import DPGBenchmark
    from evaluation.dpg.prompts import DPGPrompt

    assert DPGBenchmark(upstream_compat=True, judge=ScriptedJudge()).answer_rule == "exact"
    assert DPGBenchmark(judge=ScriptedJudge()).answer_rule == "lenient"
    with pytest.raises(BenchmarkInputError, match="exact"):
        DPGBenchmark(upstream_compat=True, answer_rule="lenient", judge=ScriptedJudge())

    graph = load_dpg_graph(write_csv(tmp_path / "g.csv"))
    generate_dpg(TwoTone(), [DPGPrompt("A", "x"), DPGPrompt("B", "y")], tmp_path / "img", 1,
                 progress=False)
    judge = ScriptedJudge()
    judge.answer_rule = "lenient"
    result = score_dpg(tmp_path / "img", graph, judge, progress=False)
    assert result.meta["answer_rule"] == "lenient"
    with pytest.raises(BenchmarkInputError, match="upstream counts only the exact"):
        score_dpg(tmp_path / "img", graph, judge, upstream_compat=True, progress=False)
    judge.answer_rule = "exact"
    compat = score_dpg(tmp_path / "img", graph, judge, upstream_compat=True, progress=False)
    assert compat.meta["answer_rule"] == "exact" and compat.meta["upstream_compat"] is True
