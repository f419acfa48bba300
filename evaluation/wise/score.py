"""Judge a WISE image folder and aggregate WiScores per category and overall."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from evaluation.errors import BenchmarkInputError
from evaluation.images import load_rgb
from evaluation.result import BenchmarkResult, group_mean, weighted_sum
from evaluation.wise.generate import image_path
from evaluation.wise.judges import WiseJudge
from evaluation.wise.parse import WiseParseError
from evaluation.wise.prompts import WisePrompt
from evaluation.wise.protocol import PROTOCOLS, WiseProtocol


def _protocol(protocol: str | WiseProtocol) -> WiseProtocol:
    if isinstance(protocol, WiseProtocol):
        return protocol
    if protocol not in PROTOCOLS:
        raise BenchmarkInputError(f"unknown WISE protocol {protocol!r}; use {sorted(PROTOCOLS)}")
    return PROTOCOLS[protocol]


def score_record(prompt: WisePrompt, text: str, protocol: WiseProtocol) -> dict[str, Any]:
    """One per-image record; `wiscore` is None (with `error`) when the reply cannot be parsed."""
    record: dict[str, Any] = {"prompt_id": prompt.prompt_id,
                              "category": protocol.category(prompt.prompt_id),
                              "subcategory": prompt.subcategory, "judge_text": text}
    try:
        record["wiscore"], fields = protocol.score(text)
        record.update(fields)
    except WiseParseError as err:
        record["wiscore"], record["error"] = None, str(err)
    return record


def judge_folder(
    image_dir: str | os.PathLike[str],
    prompts: Sequence[WisePrompt],
    judge: WiseJudge,
    protocol: str | WiseProtocol = "legacy",
    attempts: int = 2,
    workers: int = 1,
    cache_path: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Judge `<prompt_id>.png` for every prompt whose image exists (up to `attempts` calls
    until the reply parses). With `cache_path`, replies are appended to a JSONL file and
    reused on the next run (they are re-parsed, so parser fixes apply)."""
    proto = _protocol(protocol)
    root = Path(image_dir)
    cache = Path(cache_path) if cache_path is not None else None
    done: dict[int, str] = {}
    if cache is not None and cache.is_file():
        for line in cache.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            done[int(row["prompt_id"])] = row["judge_text"]
    todo = [
        p for p in prompts
        if p.prompt_id not in done and image_path(root, p.prompt_id).is_file()
    ]

    def run(prompt: WisePrompt) -> tuple[WisePrompt, str]:
        image = load_rgb(image_path(root, prompt.prompt_id))
        text = ""
        for _ in range(max(attempts, 1)):
            text = judge.judge(image, prompt, proto.name)
            if "error" not in score_record(prompt, text, proto):
                break
        return prompt, text

    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        for prompt, text in tqdm(pool.map(run, todo), total=len(todo), desc="wise judge",
                                 disable=not progress):
            done[prompt.prompt_id] = text
            if cache is not None:
                with cache.open("a", encoding="utf-8") as handle:
                    row = {"prompt_id": prompt.prompt_id, "judge_text": text}
                    handle.write(json.dumps(row) + "\n")
    return [score_record(p, done[p.prompt_id], proto) for p in prompts if p.prompt_id in done]


def category_means(records: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Mean WiScore per category over the parsed records (fine on partial sets)."""
    pairs = [(r["category"], r["wiscore"]) for r in records if r.get("wiscore") is not None]
    return group_mean(pairs)


def aggregate_wise(
    records: Sequence[dict[str, Any]],
    protocol: str | WiseProtocol = "legacy",
    expected_ids: Iterable[int] = range(1, 1001),
    meta: dict[str, Any] | None = None,
) -> BenchmarkResult:
    """per_tag = category means; overall = sum_c w_c * mean_c with the protocol's weights.

    Refuses (BenchmarkInputError) unless every expected id has a parsed score, listing the
    first 20 missing ids and their count.
    """
    proto = _protocol(protocol)
    scored = {r["prompt_id"] for r in records if r.get("wiscore") is not None}
    missing = sorted(set(expected_ids) - scored)
    if missing:
        raise BenchmarkInputError(
            f"WISE overall needs all prompts; {len(missing)} lack a parsed score (first 20: "
            f"{missing[:20]}); generate/judge them, or use category_means() for partial sets"
        )
    means = category_means(records)
    per_tag = {name: means[name] for name in proto.weights if name in means}
    # A deliberate subset (custom expected_ids) may lack whole categories: weights are then
    # renormalised over the categories present; on the full set they are used as given.
    total = sum(proto.weights[name] for name in per_tag)
    weights = {name: proto.weights[name] / total for name in per_tag}
    info = dict(meta or {}, protocol=proto.name, weights=weights, images=len(scored))
    return BenchmarkResult(f"wise_{proto.name}", weighted_sum(per_tag, weights), per_tag,
                           list(records), info)


def score_wise(
    image_dir: str | os.PathLike[str],
    prompts: Sequence[WisePrompt],
    judge: WiseJudge,
    protocol: str | WiseProtocol = "legacy",
    expected_ids: Iterable[int] = range(1, 1001),
    **judge_kwargs: Any,
) -> BenchmarkResult:
    """`judge_folder` then `aggregate_wise`; the overall needs all of `expected_ids`
    (the full benchmark by default), so a subset raises after judging (the cache keeps the
    replies). `judge_kwargs` go to `judge_folder`."""
    records = judge_folder(image_dir, prompts, judge, protocol, **judge_kwargs)
    meta = {"judge": judge.name, "image_dir": str(image_dir)}
    return aggregate_wise(records, protocol, expected_ids, meta)
