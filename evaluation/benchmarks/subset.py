"""Which prompts of a benchmark to run: the full set, given ids, every k-th, the first n."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evaluation.errors import BenchmarkInputError


@dataclass(frozen=True)
class PromptSubset:
    """Applied in this order: keep `ids` (benchmark keys: GenEval index, DPG item_id, WISE
    prompt_id, digits/diversity list index; compared as strings), then every `every`-th of
    what is left (positions 0, k, 2k, ...), then the first `limit`. All None = the full set."""

    limit: int | None = None
    every: int | None = None
    ids: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls, limit: int | None = None, every: int | None = None,
        ids: Sequence[str | int] | None = None,
    ) -> PromptSubset:
        for name, value in (("limit", limit), ("every", every)):
            if value is not None and (isinstance(value, bool) or int(value) < 1):
                raise BenchmarkInputError(f"prompt subset {name}={value!r}; use an integer >= 1")
        keys = None if ids is None else tuple(str(i) for i in ids)
        if keys is not None and not keys:
            raise BenchmarkInputError("prompt subset ids=[] selects nothing; pass ids or None")
        return cls(None if limit is None else int(limit), None if every is None else int(every),
                   keys)

    @property
    def is_full(self) -> bool:
        return self.limit is None and self.every is None and self.ids is None

    def apply(self, keys: Sequence[str], bench: str) -> list[int]:
        """Positions (into `keys`) of the selected prompts; raises if unknown ids or empty."""
        positions = list(range(len(keys)))
        if self.ids is not None:
            where = {key: i for i, key in enumerate(keys)}
            unknown = [k for k in self.ids if k not in where]
            if unknown:
                raise BenchmarkInputError(
                    f"{bench}: prompt ids {unknown[:5]} are not in the benchmark "
                    f"(keys look like {list(keys[:3])}); fix the ids"
                )
            positions = [where[k] for k in dict.fromkeys(self.ids)]
        if self.every is not None:
            positions = positions[:: self.every]
        if self.limit is not None:
            positions = positions[: self.limit]
        if not positions:
            raise BenchmarkInputError(f"{bench}: the prompt subset {self} selects no prompt")
        return positions

    def describe(self) -> str:
        if self.is_full:
            return "full"
        parts = []
        if self.ids is not None:
            parts.append(f"ids={list(self.ids)}")
        if self.every is not None:
            parts.append(f"every={self.every}")
        if self.limit is not None:
            parts.append(f"limit={self.limit}")
        return ",".join(parts)
