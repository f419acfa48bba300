"""Reader for the WISE prompt JSONs (PKU-YuanGroup/WISE), legacy and verified releases."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evaluation.errors import BenchmarkInputError
from evaluation.paths import resolve_root

Variant = Literal["legacy", "verified"]
SPLITS = ("cultural_common_sense", "spatio-temporal_reasoning", "natural_science")
_KEYS = ("prompt_id", "Prompt", "Explanation", "Category", "Subcategory")


@dataclass(frozen=True)
class WisePrompt:
    prompt_id: int
    prompt: str
    explanation: str
    category: str
    subcategory: str


def _read(path: Path) -> list[WisePrompt]:
    if not path.is_file():
        raise BenchmarkInputError(
            f"WISE prompt file {path} not found; run `python -m evaluation.fetch --dest DIR`"
        )
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BenchmarkInputError(f"{path}: invalid JSON ({err.msg}); re-fetch the file") from err
    if not isinstance(rows, list):
        raise BenchmarkInputError(f"{path}: expected a JSON list of prompts; re-fetch the file")
    out = []
    for i, row in enumerate(rows):
        missing = [k for k in _KEYS if not isinstance(row, dict) or k not in row]
        if missing or not isinstance(row["prompt_id"], int) or isinstance(row["prompt_id"], bool):
            raise BenchmarkInputError(f"{path}: entry {i} lacks {missing or 'an int prompt_id'}")
        out.append(WisePrompt(row["prompt_id"], row["Prompt"], row["Explanation"],
                              row["Category"], row["Subcategory"]))
    return out


def load_wise_prompts(
    path: str | os.PathLike[str] | None = None,
    variant: Variant = "legacy",
    rewrite: bool = False,
    use_merge: bool = True,
    expect_rows: int | None = 1000,
) -> list[WisePrompt]:
    """All prompts of one release, sorted by prompt_id (ids must be unique).

    `path`: a benchmark root (holding `wise/legacy`, `wise/verified`) or the release folder
    itself; default `default_benchmark_root()`. Legacy reads the three category files (or
    the `_rewrite` versions with `rewrite=True`); verified reads `merge.json`, or the three
    `*_verified.json` files with `use_merge=False`.
    """
    base = resolve_root(path)
    if (base / "wise").is_dir():
        base = base / "wise"
    if (base / variant).is_dir():
        base = base / variant
    if variant == "legacy":
        suffix = "_rewrite" if rewrite else ""
        files = [base / f"{name}{suffix}.json" for name in SPLITS]
    elif variant == "verified":
        if rewrite:
            raise BenchmarkInputError("verified WISE has no rewrite prompts; use rewrite=False")
        split = [base / f"{name}_verified.json" for name in SPLITS]
        files = [base / "merge.json"] if use_merge else split
    else:
        raise BenchmarkInputError(f"unknown WISE variant {variant!r}; use 'legacy' or 'verified'")
    prompts = sorted((p for f in files for p in _read(f)), key=lambda p: p.prompt_id)
    ids = [p.prompt_id for p in prompts]
    if len(set(ids)) != len(ids):
        raise BenchmarkInputError(f"duplicate WISE prompt_id in {base}; re-fetch the files")
    if expect_rows is not None and len(prompts) != expect_rows:
        raise BenchmarkInputError(
            f"{base}: {len(prompts)} WISE prompts, expected {expect_rows}; re-fetch the files"
        )
    return prompts
