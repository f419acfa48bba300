"""Parse WISE judge replies.

Legacy replies carry three lines like `Consistency: 2`, `Realism: 1`, `Aesthetic Quality: 0`
(the upstream regex accepts `**` bold markers and full-width colons, and the LAST mention of a
key wins); verified replies carry `Score: 0` or `Score: 1`. Accepted here on top: a rubric
range written after the key (`Consistency (0-2): 2`), `_` or no space in "Aesthetic Quality",
`=`/`-` separators, markdown headers, "2/2" and "2.0". Values must be in range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from evaluation.errors import BenchmarkInputError

_SEP = r"[\s*_#>`]*(?:\(\s*0\s*[-–~]\s*[12]\s*\)[\s*_]*)?[:：=\-]?[\s*_`]*"
_LEGACY = re.compile(
    r"(consistency|realism|aesthetic[\s_]*quality|aesthetics?)" + _SEP + r"([0-9]+(?:\.[0-9]+)?)",
    re.IGNORECASE,
)
_VERIFIED = re.compile(r"\bscore" + _SEP + r"([0-9]+(?:\.[0-9]+)?)", re.IGNORECASE)


class WiseParseError(BenchmarkInputError):
    """The judge reply does not contain the expected scores."""


@dataclass(frozen=True)
class LegacyScores:
    consistency: float
    realism: float
    aesthetic_quality: float


def _value(raw: str, high: int, text: str) -> float:
    value = float(raw)
    if not 0 <= value <= high or value != int(value):
        raise WiseParseError(f"score {raw} outside 0-{high} in judge reply {text[:80]!r}")
    return value


def parse_legacy(text: str) -> LegacyScores:
    """Consistency, realism, aesthetic quality in {0, 1, 2} from a legacy-protocol reply."""
    found: dict[str, str] = {}
    for key, raw in _LEGACY.findall(text):
        norm = key.lower()
        name = "aesthetic_quality" if norm.startswith("aesthetic") else norm
        found[name] = raw
    missing = [k for k in ("consistency", "realism", "aesthetic_quality") if k not in found]
    if missing:
        raise WiseParseError(f"judge reply lacks {missing}: {text[:120]!r}; ask for 3 score lines")
    return LegacyScores(*(_value(found[k], 2, text)
                          for k in ("consistency", "realism", "aesthetic_quality")))


def parse_verified(text: str) -> int:
    """The binary score (0 or 1) of a verified-protocol reply; the last `Score:` wins."""
    matches = _VERIFIED.findall(text)
    if not matches:
        raise WiseParseError(f"judge reply lacks 'Score: 0|1': {text[:120]!r}")
    return int(_value(matches[-1], 1, text))
