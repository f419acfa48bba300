"""When a VQA answer counts as "yes" for DPG-Bench.

* ``exact``: the answer text equals ``"yes"``, nothing else (upstream
  ``compute_dpg_bench.py``: ``if answer == 'yes'``); the only rule ``upstream_compat`` allows.
* ``lenient``: lower-cased, stripped of surrounding spaces and final ``.`` / ``!``, it equals
  ``"yes"`` (so "Yes." counts); the default otherwise, recorded in the result's meta.
"""

from __future__ import annotations

from collections.abc import Callable

from evaluation.errors import BenchmarkInputError

ANSWER_RULES = ("exact", "lenient")


def exact_yes(answer: str) -> bool:
    return answer == "yes"


def lenient_yes(answer: str) -> bool:
    return answer.strip().rstrip(".!").strip().lower() == "yes"


def yes_rule(name: str) -> Callable[[str], bool]:
    if name not in ANSWER_RULES:
        raise BenchmarkInputError(f"DPG answer rule {name!r}; use one of {list(ANSWER_RULES)}")
    return exact_yes if name == "exact" else lenient_yes


def resolve_rule(name: str | None, upstream_compat: bool) -> str:
    """``None`` -> ``exact`` under ``upstream_compat``, else ``lenient``; ``lenient`` with
    ``upstream_compat`` is refused (upstream counts only the exact answer)."""
    rule = name or ("exact" if upstream_compat else "lenient")
    yes_rule(rule)
    if upstream_compat and rule != "exact":
        raise BenchmarkInputError(
            f"DPG answer rule {rule!r} with upstream_compat: upstream counts only the exact "
            "answer 'yes'; drop upstream_compat or use the 'exact' rule"
        )
    return rule


__all__ = ["ANSWER_RULES", "exact_yes", "lenient_yes", "resolve_rule", "yes_rule"]
