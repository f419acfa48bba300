"""The two WISE scoring protocols: category id ranges, weights and the per-image score.

Legacy (paper, GPT-4o judge): the judge gives Consistency C, Realism R, Aesthetic Quality A
in {0, 1, 2}; WiScore = (0.7 C + 0.2 R + 0.1 A) / 2 in [0, 1]. Categories by prompt_id:
cultural 1-400, time 401-567, space 568-700, biology 701-800, physics 801-900,
chemistry 901-1000; overall = 0.4 cultural + 0.167 time + 0.133 space + 0.1 biology
+ 0.1 physics + 0.1 chemistry (the shares of 1,000 prompts).

Verified (WISE_Verified, 2026-04, Qwen3.5-35B-A3B judge): the judge gives one binary
`Score: 0|1`, which is the per-image WiScore. Categories: cultural 1-400, time 401-520,
space 521-640, biology 641-760, physics 761-880, chemistry 881-1000; overall = 0.4 cultural
+ 0.12 each of the other five.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.errors import BenchmarkInputError
from evaluation.wise.parse import LegacyScores, parse_legacy, parse_verified


@dataclass(frozen=True)
class WiseProtocol:
    name: str
    ranges: dict[str, tuple[int, int]]  # category -> inclusive prompt_id range
    weights: dict[str, float]

    def category(self, prompt_id: int) -> str:
        for name, (low, high) in self.ranges.items():
            if low <= prompt_id <= high:
                return name
        raise BenchmarkInputError(f"prompt_id {prompt_id} is outside 1-1000; check the prompt file")

    def score(self, judge_text: str) -> tuple[float, dict[str, float]]:
        """(per-image WiScore, parsed fields) from the judge's reply; raises WiseParseError."""
        if self.name == "legacy":
            s: LegacyScores = parse_legacy(judge_text)
            fields = {"consistency": s.consistency, "realism": s.realism,
                      "aesthetic_quality": s.aesthetic_quality}
            return wiscore(s.consistency, s.realism, s.aesthetic_quality), fields
        value = float(parse_verified(judge_text))
        return value, {"score": value}


def wiscore(consistency: float, realism: float, aesthetic_quality: float) -> float:
    """(0.7 C + 0.2 R + 0.1 A) / 2, each input in [0, 2], output in [0, 1]."""
    return (0.7 * consistency + 0.2 * realism + 0.1 * aesthetic_quality) / 2.0


LEGACY = WiseProtocol(
    "legacy",
    ranges={"cultural": (1, 400), "time": (401, 567), "space": (568, 700),
            "biology": (701, 800), "physics": (801, 900), "chemistry": (901, 1000)},
    weights={"cultural": 0.4, "time": 0.167, "space": 0.133,
             "biology": 0.1, "physics": 0.1, "chemistry": 0.1},
)
VERIFIED = WiseProtocol(
    "verified",
    ranges={"cultural": (1, 400), "time": (401, 520), "space": (521, 640),
            "biology": (641, 760), "physics": (761, 880), "chemistry": (881, 1000)},
    weights={"cultural": 0.4, "time": 0.12, "space": 0.12,
             "biology": 0.12, "physics": 0.12, "chemistry": 0.12},
)
PROTOCOLS = {"legacy": LEGACY, "verified": VERIFIED}
