"""Reader for GenEval's `evaluation_metadata.jsonl` (553 prompts, 6 tags)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.errors import BenchmarkInputError
from evaluation.paths import resolve_root

TAGS: tuple[str, ...] = (
    "single_object", "two_object", "counting", "colors", "position", "color_attr",
)
COLORS: tuple[str, ...] = (
    "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white",
)
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
METADATA_FILE = "geneval/evaluation_metadata.jsonl"
OBJECT_NAMES_FILE = "geneval/object_names.txt"
EXPECTED_ROWS = 553


@dataclass(frozen=True)
class Requirement:
    """One `include`/`exclude` clause: `count` objects of `cls`, optionally of a colour and
    placed `position = (relation, group_index)` relative to include-group `group_index`."""

    cls: str
    count: int
    color: str | None = None
    position: tuple[str, int] | None = None


@dataclass(frozen=True)
class GenEvalPrompt:
    """One metadata row; `raw` is the row exactly as read (written back next to the images)."""

    index: int
    tag: str
    prompt: str
    include: tuple[Requirement, ...]
    exclude: tuple[Requirement, ...]
    raw: dict[str, Any]


def _requirement(item: Any, where: str, allow_extras: bool) -> Requirement:
    if not isinstance(item, dict) or not isinstance(item.get("class"), str):
        raise BenchmarkInputError(f"{where}: clause {item!r} lacks a 'class' string; fix the row")
    count = item.get("count")
    if not isinstance(count, int) or count < 1:
        raise BenchmarkInputError(f"{where}: clause count {count!r} must be an int >= 1")
    color = item.get("color")
    position = item.get("position")
    if not allow_extras and (color is not None or position is not None):
        raise BenchmarkInputError(f"{where}: exclude clauses take no color/position; fix the row")
    if color is not None and color not in COLORS:
        raise BenchmarkInputError(f"{where}: unknown color {color!r}; use one of {COLORS}")
    pos: tuple[str, int] | None = None
    if position is not None:
        ok = isinstance(position, list) and len(position) == 2 and position[0] in RELATIONS
        if not ok or not isinstance(position[1], int):
            raise BenchmarkInputError(
                f"{where}: position {position!r} must be [relation, group_index]; fix the row"
            )
        pos = (position[0], position[1])
    return Requirement(cls=item["class"], count=count, color=color, position=pos)


def parse_row(row: Any, index: int, where: str = "row") -> GenEvalPrompt:
    """Validate one decoded metadata row; position targets must point at earlier include groups."""
    if not isinstance(row, dict):
        raise BenchmarkInputError(f"{where}: expected a JSON object, got {type(row).__name__}")
    tag, prompt = row.get("tag"), row.get("prompt")
    if tag not in TAGS:
        raise BenchmarkInputError(f"{where}: unknown tag {tag!r}; expected one of {TAGS}")
    if not isinstance(prompt, str) or not prompt.strip():
        raise BenchmarkInputError(f"{where}: missing 'prompt' text; fix the row")
    include_raw = row.get("include")
    if not isinstance(include_raw, list) or not include_raw:
        raise BenchmarkInputError(f"{where}: 'include' must be a non-empty list; fix the row")
    include = tuple(_requirement(x, where, allow_extras=True) for x in include_raw)
    for i, req in enumerate(include):
        if req.position is not None and not 0 <= req.position[1] < i:
            raise BenchmarkInputError(
                f"{where}: position target {req.position[1]} is not an earlier include group"
            )
    exclude = tuple(_requirement(x, where, allow_extras=False) for x in row.get("exclude", []))
    return GenEvalPrompt(index, tag, prompt, include, exclude, row)


def load_geneval_prompts(
    path: str | os.PathLike[str] | None = None, expect_rows: int | None = EXPECTED_ROWS
) -> list[GenEvalPrompt]:
    """Read and validate `evaluation_metadata.jsonl`; line i (0-based) is image folder `%05d`.

    `path` is the file itself or a benchmark root holding `geneval/evaluation_metadata.jsonl`
    (default: `default_benchmark_root()`). `expect_rows=None` accepts any count (subsets).
    """
    target = resolve_root(path)
    if target.is_dir():
        target = target / METADATA_FILE
    if not target.is_file():
        raise BenchmarkInputError(
            f"GenEval metadata {target} not found; run `python -m evaluation.fetch --dest DIR` "
            "or set TWINFLOW_BENCHMARKS"
        )
    prompts: list[GenEvalPrompt] = []
    lines = Path(target).read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{target}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise BenchmarkInputError(f"{where}: invalid JSON ({err.msg}); fix the line") from err
        prompts.append(parse_row(row, len(prompts), where))
    if expect_rows is not None and len(prompts) != expect_rows:
        raise BenchmarkInputError(
            f"{target} has {len(prompts)} rows, expected {expect_rows}; re-fetch the file "
            "or pass expect_rows=None for a subset"
        )
    return prompts


def load_object_names(path: str | os.PathLike[str] | None = None) -> list[str]:
    """The 80 COCO class names of `object_names.txt`, in detector label-id order."""
    target = resolve_root(path)
    if target.is_dir():
        target = target / OBJECT_NAMES_FILE
    if not target.is_file():
        raise BenchmarkInputError(f"{target} not found; fetch the benchmarks or pass the file")
    names = [line.strip() for line in target.read_text(encoding="utf-8").splitlines()]
    names = [n for n in names if n]
    if len(names) != 80:
        raise BenchmarkInputError(f"{target} has {len(names)} names, expected 80; re-fetch it")
    return names
