"""Reader for DPG-Bench prompts: `dpg_bench/prompts.jsonl` or the `dpg_bench/prompts/` folder."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from evaluation.errors import BenchmarkInputError
from evaluation.paths import resolve_root

EXPECTED_ROWS = 1065


@dataclass(frozen=True)
class DPGPrompt:
    """`item_id` is the prompt file stem (and the stem of the saved grid); `prompt` is raw text."""

    item_id: str
    prompt: str


def item_order(item_id: str) -> tuple[int, int, str]:
    """Numeric ids ascending first, then the named ids sorted by name (SOURCES.md order)."""
    return (0, int(item_id), "") if item_id.isdigit() else (1, 0, item_id)


def _from_jsonl(path: Path) -> list[DPGPrompt]:
    prompts = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            msg = f"{path}:{lineno}: invalid JSON ({err.msg}); fix the line"
            raise BenchmarkInputError(msg) from err
        if not isinstance(row, dict) or not isinstance(row.get("item_id"), str):
            raise BenchmarkInputError(f"{path}:{lineno}: needs a string 'item_id'; fix the row")
        if not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
            raise BenchmarkInputError(f"{path}:{lineno}: needs a non-empty 'prompt'; fix the row")
        prompts.append(DPGPrompt(row["item_id"], row["prompt"]))
    return prompts


def _from_folder(folder: Path) -> list[DPGPrompt]:
    files = sorted(folder.glob("*.txt"), key=lambda p: item_order(p.stem))
    return [DPGPrompt(p.stem, p.read_text(encoding="utf-8")) for p in files]


def load_dpg_prompts(
    path: str | os.PathLike[str] | None = None, expect_rows: int | None = EXPECTED_ROWS
) -> list[DPGPrompt]:
    """Prompts from `prompts.jsonl`, a `prompts/` folder of `<item_id>.txt`, or a benchmark root
    (default root; `dpg_bench/prompts.jsonl` preferred over `dpg_bench/prompts/`).

    Text is kept exactly as stored (two upstream files carry stray whitespace); ids must be
    unique. `expect_rows=None` accepts any count.
    """
    target = resolve_root(path)
    if target.is_dir() and (target / "dpg_bench").is_dir():
        target = target / "dpg_bench"
    if target.is_dir() and (target / "prompts.jsonl").is_file():
        target = target / "prompts.jsonl"
    elif target.is_dir() and (target / "prompts").is_dir():
        target = target / "prompts"
    if target.is_file():
        prompts = _from_jsonl(target)
    elif target.is_dir():
        prompts = _from_folder(target)
    else:
        raise BenchmarkInputError(
            f"DPG-Bench prompts {target} not found; run `python -m evaluation.fetch --dest DIR`"
        )
    ids = [p.item_id for p in prompts]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise BenchmarkInputError(f"{target}: duplicate item_id {dup}; keep one row per item")
    if expect_rows is not None and len(prompts) != expect_rows:
        raise BenchmarkInputError(
            f"{target} has {len(prompts)} prompts, expected {expect_rows}; re-fetch or pass "
            "expect_rows=None for a subset"
        )
    return prompts
