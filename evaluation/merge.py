"""Several `make eval` calls into one `--out`: results merge, nothing earlier is dropped.

A folder belongs to one model (`out_dir.py`).  A later call with other NFEs or benchmarks adds
its (benchmark, NFE) results to those already there: `results.json` and `report.html` are
rewritten with the union, each earlier entry read back from its own
`<out>/<bench>/nfe<k>/result.json`.  Results are only comparable at the same prompt subset,
seed and sampler style, so a call with other settings is refused before it generates.
"""

from __future__ import annotations

import json
from pathlib import Path

from evaluation.errors import BenchmarkInputError
from evaluation.evaluate import Evaluation
from evaluation.result import BenchmarkResult

SETTINGS = ("subset", "seed", "style")


def earlier_results(out: Path) -> dict:
    """The folder's `results.json` (empty when there is none)."""
    path = out / "results.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BenchmarkInputError(f"{path} is not readable JSON ({err}); move it away or pass "
                                  "a new --out") from None


def check_settings(out: Path, settings: dict) -> None:
    """Refuse (before any work) a call whose subset, seed or style differ from the folder's."""
    earlier = earlier_results(out)
    differ = {k: (earlier[k], settings[k]) for k in SETTINGS
              if k in earlier and str(earlier[k]) != str(settings[k])}
    if differ:
        what = ", ".join(f"{k} {a!r} there, {b!r} now" for k, (a, b) in differ.items())
        raise BenchmarkInputError(f"--out {out} holds results of other settings ({what}); "
                                  "scores would not compare: pass a new --out")


def merged(out: Path, evaluations: dict[str, list[Evaluation]]) -> dict[str, list[Evaluation]]:
    """This call's evaluations plus the folder's earlier ones it did not recompute."""
    earlier = earlier_results(out).get("results", {})
    union = {b: list(evs) for b, evs in evaluations.items()}
    for bench, by_nfe in earlier.items():
        done = {ev.nfe for ev in union.get(bench, [])}
        for nfe in sorted(int(n) for n in by_nfe):
            if nfe in done:
                continue
            root = out / bench / f"nfe{nfe}"
            path = root / "result.json"
            if not path.is_file():
                continue  # listed but its folder was removed: nothing to show
            result = BenchmarkResult(**json.loads(path.read_text(encoding="utf-8")))
            grid = root / "grid.png"
            union.setdefault(bench, []).append(
                Evaluation(bench, nfe, result, root, path, grid if grid.is_file() else None))
    for evs in union.values():
        evs.sort(key=lambda ev: ev.nfe)
    return union


__all__ = ["check_settings", "earlier_results", "merged"]
