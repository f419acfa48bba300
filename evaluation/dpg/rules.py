"""DPG-Bench per-item scoring rules (TencentQQGYLab/ELLA `dpg_bench/compute_dpg_bench.py`).

For each of the 4 tiles of an item: s_q = 1 if the judge answers yes to question q, else 0;
then every question with a parent whose score is 0 is set to 0 (zeroing cascades down the
graph); tile score = mean_q s_q; item score = mean over tiles. Category samples are the
zeroed s_q of every (tile, question) pair, keyed by L1 = category_broad and
L2 = "<broad> - <detailed>".

`upstream_compat=True` reproduces the upstream scorer instead: zeroing is one pass in file
order reading the current (partly zeroed) scores, and the category samples are only the
LAST tile's answers BEFORE zeroing. (Its other quirk, the skipped first CSV row, lives in
`load_dpg_graph(skip_first_row=True)`; a question whose parent is then missing makes the
upstream scorer drop the image, which `score_item` signals by returning None.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from evaluation.dpg.graph import DPGItem
from evaluation.result import mean


@dataclass(frozen=True)
class ItemScore:
    """Tile scores, their mean, and (L1, L2, score) category samples."""

    tile_scores: tuple[float, ...]
    score: float
    category_samples: tuple[tuple[str, str, float], ...]


def zero_children(item: DPGItem, answers: Mapping[int, bool]) -> dict[int, float]:
    """Cascade: q scores 1 only if answered yes and every ancestor scores 1."""
    parents = {q.proposition_id: q.parents for q in item.questions}
    memo: dict[int, float] = {}

    def score(qid: int) -> float:
        if qid not in memo:
            ok = answers[qid] and all(score(p) == 1.0 for p in parents[qid])
            memo[qid] = 1.0 if ok else 0.0
        return memo[qid]

    return {q.proposition_id: score(q.proposition_id) for q in item.questions}


def zero_children_in_order(item: DPGItem, answers: Mapping[int, bool]) -> dict[int, float]:
    """Upstream's single in-order pass; raises KeyError on a missing parent like upstream."""
    scores = {q.proposition_id: float(answers[q.proposition_id]) for q in item.questions}
    for q in item.questions:
        if any(scores[p] == 0 for p in q.parents):
            scores[q.proposition_id] = 0.0
    return scores


def score_item(
    item: DPGItem, tile_answers: Sequence[Mapping[int, bool]], upstream_compat: bool = False
) -> ItemScore | None:
    """Score one item from per-tile {proposition_id: yes?}; None = upstream would skip it."""
    tiles: list[float] = []
    samples: list[tuple[str, str, float]] = []
    for answers in tile_answers:
        if upstream_compat:
            try:
                zeroed = zero_children_in_order(item, answers)
            except KeyError:
                return None
        else:
            zeroed = zero_children(item, answers)
        tiles.append(mean(zeroed.values()))
        if not upstream_compat:
            samples.extend(
                (q.category_broad, q.l2, zeroed[q.proposition_id]) for q in item.questions
            )
    if upstream_compat and tile_answers:
        last = tile_answers[-1]
        for q in item.questions:
            # Upstream keys categories by the tuple text before "(": "entity - whole (cat)".
            l2 = q.tuple_text.split("(")[0].strip()
            samples.append((l2.split("-")[0].strip(), l2, float(last[q.proposition_id])))
    return ItemScore(tuple(tiles), mean(tiles), tuple(samples))
