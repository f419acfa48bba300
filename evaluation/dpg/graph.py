"""Reader for DPG-Bench's question graph `dpg_bench.csv`.

Columns: item_id, text, keywords, proposition_id, dependency, category_broad,
category_detailed, tuple, question_natural_language. `dependency` lists parent proposition
ids, comma separated; 0 means "no parent". Rows of one item need not be contiguous.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from evaluation.errors import BenchmarkInputError

COLUMNS: tuple[str, ...] = (
    "item_id", "text", "keywords", "proposition_id", "dependency", "category_broad",
    "category_detailed", "tuple", "question_natural_language",
)


@dataclass(frozen=True)
class DPGQuestion:
    """One proposition: its id, parent ids (0 removed), categories, tuple text and question."""

    proposition_id: int
    parents: tuple[int, ...]
    category_broad: str
    category_detailed: str
    tuple_text: str
    question: str

    @property
    def l2(self) -> str:
        """The L2 key, `"<broad> - <detailed>"`, like upstream's tuple prefix (`entity - whole`)."""
        return f"{self.category_broad} - {self.category_detailed}"


@dataclass(frozen=True)
class DPGItem:
    item_id: str
    questions: tuple[DPGQuestion, ...]


def _int(value: str, what: str, where: str) -> int:
    try:
        return int(value.strip())
    except ValueError as err:
        msg = f"{where}: {what} {value!r} is not an integer; fix the row"
        raise BenchmarkInputError(msg) from err


def _check_graph(item: DPGItem, where: str) -> None:
    """Parents must exist within the item and the dependencies must not form a cycle."""
    ids = {q.proposition_id for q in item.questions}
    parents = {q.proposition_id: q.parents for q in item.questions}
    for q in item.questions:
        missing = [p for p in q.parents if p not in ids]
        if missing:
            raise BenchmarkInputError(
                f"{where}: item {item.item_id!r} proposition {q.proposition_id} depends on "
                f"missing {missing}; fix the dependency column"
            )
    state: dict[int, int] = {}  # 1 = on the stack, 2 = done

    def visit(node: int) -> None:
        if state.get(node) == 1:
            raise BenchmarkInputError(
                f"{where}: item {item.item_id!r} has a dependency cycle through {node}; fix it"
            )
        if state.get(node) != 2:
            state[node] = 1
            for parent in parents[node]:
                visit(parent)
            state[node] = 2

    for node in parents:
        visit(node)


def load_dpg_graph(
    path: str | os.PathLike[str], skip_first_row: bool = False, validate: bool = True
) -> dict[str, DPGItem]:
    """Items by id, questions in file order. `skip_first_row=True` drops the first data row,
    as the upstream scorer does (`if i == 0: continue`). `validate=False` keeps items whose
    parents are missing (the upstream scorer then fails on that image and skips it)."""
    source = Path(path)
    if not source.is_file():
        raise BenchmarkInputError(
            f"DPG-Bench question graph {source} not found; get dpg_bench.csv from "
            "TencentQQGYLab/ELLA (see SOURCES.md) and pass its path"
        )
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        absent = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if absent:
            raise BenchmarkInputError(f"{source}: missing columns {absent}; expected {COLUMNS}")
        grouped: dict[str, list[DPGQuestion]] = {}
        for rowno, row in enumerate(reader):
            where = f"{source}:{rowno + 2}"
            if skip_first_row and rowno == 0:
                continue
            if any(row[c] is None for c in COLUMNS):
                raise BenchmarkInputError(f"{where}: too few fields; quote commas inside fields")
            qid = _int(row["proposition_id"], "proposition_id", where)
            if qid < 1:
                raise BenchmarkInputError(f"{where}: proposition_id must be >= 1; fix the row")
            deps = [_int(d, "dependency", where) for d in row["dependency"].split(",")]
            parents = tuple(d for d in deps if d != 0)
            if qid in parents:
                raise BenchmarkInputError(f"{where}: proposition {qid} depends on itself; fix it")
            question = DPGQuestion(
                qid, parents, row["category_broad"].strip(), row["category_detailed"].strip(),
                row["tuple"], row["question_natural_language"],
            )
            questions = grouped.setdefault(row["item_id"].strip(), [])
            if any(q.proposition_id == qid for q in questions):
                raise BenchmarkInputError(
                    f"{where}: item {row['item_id']!r} repeats proposition {qid}; fix the file"
                )
            questions.append(question)
    items = {key: DPGItem(key, tuple(qs)) for key, qs in grouped.items()}
    if validate:
        for item in items.values():
            _check_graph(item, str(source))
    if not items:
        raise BenchmarkInputError(f"{source} has no question rows; pass the full dpg_bench.csv")
    return items
