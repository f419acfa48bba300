"""Score a folder of DPG-Bench 2x2 grids with a `VQAJudge`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from evaluation.dpg.answers import resolve_rule
from evaluation.dpg.graph import DPGItem
from evaluation.dpg.judges import VQAJudge
from evaluation.dpg.rules import ItemScore, score_item
from evaluation.errors import BenchmarkInputError
from evaluation.images import load_rgb, split_grid_2x2
from evaluation.result import BenchmarkResult, group_mean, mean


def aggregate(
    scores: Mapping[str, ItemScore], meta: dict[str, Any], upstream_compat: bool = False
) -> BenchmarkResult:
    """overall = 100 * mean item score; per_tag "L1/<broad>" and "L2/<broad> - <detailed>" =
    100 * mean of their category samples (see `rules`)."""
    if not scores:
        raise BenchmarkInputError("no DPG-Bench item could be scored; check images and the CSV")
    samples = [s for item in scores.values() for s in item.category_samples]
    l1 = group_mean((f"L1/{a}", v * 100.0) for a, _, v in samples)
    l2 = group_mean((f"L2/{b}", v * 100.0) for _, b, v in samples)
    per_tag = dict(sorted(l1.items())) | dict(sorted(l2.items()))
    per_item = [
        {"item_id": key, "score": s.score * 100.0, "tile_scores": list(s.tile_scores)}
        for key, s in scores.items()
    ]
    info = dict(meta, upstream_compat=upstream_compat, items=len(scores))
    return BenchmarkResult("dpg_bench", mean(s.score for s in scores.values()) * 100.0,
                           per_tag, per_item, info)


def score_dpg(
    outdir: str | os.PathLike[str],
    graph: Mapping[str, DPGItem],
    judge: VQAJudge,
    item_ids: Sequence[str] | None = None,
    batch_size: int = 32,
    upstream_compat: bool = False,
    progress: bool = True,
) -> BenchmarkResult:
    """Ask every question of `graph[item_id]` about each tile of `<outdir>/<item_id>.png`.

    `item_ids` defaults to every `*.png` in `outdir`. A grid without questions is an error,
    except with `upstream_compat=True`, where (like upstream) it is skipped and listed in
    meta["skipped_items"] together with items whose graph lost a parent.
    meta["answer_rule"] is the judge's `answer_rule` ("exact" or "lenient", see
    `evaluation.dpg.answers`; "judge" for a judge without one); `upstream_compat=True` refuses
    a judge whose rule is not "exact".
    """
    rule = getattr(judge, "answer_rule", "judge")
    if upstream_compat and rule not in ("exact", "judge"):
        resolve_rule(rule, upstream_compat)  # raises the one-line error
    root = Path(outdir)
    if not root.is_dir():
        raise BenchmarkInputError(f"DPG-Bench folder {root} does not exist; run generate_dpg")
    ids = list(item_ids) if item_ids is not None else sorted(p.stem for p in root.glob("*.png"))
    skipped = [i for i in ids if i not in graph]
    if skipped and not upstream_compat:
        raise BenchmarkInputError(
            f"{len(skipped)} images have no questions in the graph (e.g. {skipped[:5]}); "
            "pass the matching dpg_bench.csv or item_ids"
        )
    scores: dict[str, ItemScore] = {}
    for item_id in tqdm([i for i in ids if i in graph], desc="dpg score", disable=not progress):
        item = graph[item_id]
        tiles = split_grid_2x2(load_rgb(root / f"{item_id}.png"))
        pairs = [(t, q) for t in range(len(tiles)) for q in item.questions]
        yes: list[bool] = []
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            yes.extend(judge.answer([tiles[t] for t, _ in chunk], [q.question for _, q in chunk]))
        answers: list[dict[int, bool]] = [{} for _ in tiles]
        for (t, q), ok in zip(pairs, yes, strict=True):
            answers[t][q.proposition_id] = bool(ok)
        result = score_item(item, answers, upstream_compat)
        if result is None:
            skipped.append(item_id)
        else:
            scores[item_id] = result
    meta = {"judge": judge.name, "answer_rule": rule, "outdir": str(root),
            "skipped_items": skipped}
    return aggregate(scores, meta, upstream_compat)
