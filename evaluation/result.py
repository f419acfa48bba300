"""One result type for every benchmark, plus the aggregation helpers they share."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BenchmarkResult:
    """Uniform benchmark output consumed by reports, callbacks and MLflow.

    `overall` uses the benchmark's own scale (GenEval/WISE in [0, 1], DPG-Bench in [0, 100]);
    `per_tag` holds the sub-scores (GenEval tags, DPG L1/L2 categories, WISE categories);
    `per_item` holds one JSON-able record per scored unit; `meta` says how it was computed
    (judges, thresholds, compatibility switches, counts).
    """

    name: str
    overall: float
    per_tag: dict[str, float]
    per_item: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, default=_jsonable)

    def save(self, path: str | Path) -> Path:
        """Write `to_json()` to `path` (parents created) and return the path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(self.to_json(indent=2) + "\n", encoding="utf-8")
        return out

    def flat_metrics(self, prefix: str | None = None) -> dict[str, float]:
        """`{"<name>/overall": x, "<name>/<tag>": y, ...}` for metric loggers (tags sanitised)."""
        head = prefix if prefix is not None else self.name
        out = {f"{head}/overall": float(self.overall)}
        for tag, value in self.per_tag.items():
            out[f"{head}/{_metric_key(tag)}"] = float(value)
        return out


def _metric_key(tag: str) -> str:
    # MLflow rejects some characters in metric names; keep letters, digits and a few separators.
    return "".join(c if c.isalnum() or c in "-_./" else "_" for c in tag.strip())


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__} in a BenchmarkResult")


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; NaN for an empty input so a missing group is visible, not zero."""
    items = [float(v) for v in values]
    return math.fsum(items) / len(items) if items else math.nan


def group_mean(pairs: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Mean of the values of each key, keys in first-seen order."""
    groups: dict[str, list[float]] = defaultdict(list)
    for key, value in pairs:
        groups[key].append(float(value))
    return {key: mean(values) for key, values in groups.items()}


def weighted_sum(scores: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """sum_k w_k * s_k over the keys of `weights`; every weighted key must have a score."""
    missing = [k for k in weights if k not in scores]
    if missing:
        raise KeyError(f"no score for weighted keys {missing}")
    return math.fsum(weights[k] * scores[k] for k in weights)
