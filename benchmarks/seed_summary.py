"""Recipe variants against each other over training seeds, on every held-out metric.

Why: at the demo's budget one phase-2 training seed moves the 1-NFE pixel-FD ratio by about
0.1 and one sampling draw by about 0.03 (docs/results.md), more than most recipe changes.
A change is only worth reading when its paired difference clears that noise.

Inputs:

* ``rows``: one per variant and training seed,
  ``{"variant": str, "seed": int, "scores": {sampling_seed: {nfe: DigitScores dict}}}``;
* ``original``: the original (multi-step) model, ``{sampling_seed: {nfe: DigitScores dict}}``.

Per row and NFE each metric is taken against the original on the *same* sampling seed (both
models see the same noise and prompts) and then averaged over the sampling seeds:

    fd_ratio = fd / fd_orig   (and fd_judge2, fd_pixel)     recall_diff = recall - recall_orig

``accuracy`` is reported as is.  The original's NFE is the one with the lowest tuned-judge FD
averaged over the sampling seeds.  Per variant: the mean and sample standard deviation over
its training seeds; against the reference variant, the mean paired difference over the
training seeds both ran and its standard error ``sd / sqrt(n)``.
"""

from __future__ import annotations

import math
import statistics

# (reported name, DigitScores field, how it relates to the original)
METRICS = (("fd_ratio", "fd", "ratio"), ("fd_judge2_ratio", "fd_judge2", "ratio"),
           ("fd_pixel_ratio", "fd_pixel", "ratio"), ("recall_diff", "recall", "diff"),
           ("accuracy", "accuracy", "value"))


def original_nfe(original: dict) -> str:
    """The original's NFE with the lowest tuned-judge FD, averaged over sampling seeds."""
    nfes = set.intersection(*(set(per) for per in original.values())) if original else set()
    if not nfes:
        raise ValueError("the original model has no scores common to all its sampling seeds; "
                         "run the sweep's original job (mode run or original) again")
    return min(sorted(nfes), key=lambda n: statistics.fmean(original[q][n]["fd"]
                                                            for q in original))


def relative(scores: dict, original: dict, nfe_orig: str) -> dict[str, dict[str, float]]:
    """``{nfe: {metric: value}}`` of one row against the original, averaged over its
    sampling seeds (each of which the original must have been scored on)."""
    missing = sorted(set(scores) - set(original), key=str)
    if missing:
        raise ValueError(f"the original model was not scored on sampling seed(s) {missing}; "
                         "score it with the same --score-seeds as the variants")
    out: dict[str, dict[str, float]] = {}
    for nfe in sorted(set.intersection(*(set(per) for per in scores.values())), key=str):
        per_seed = []
        for q, per in scores.items():
            ref, row = original[q][nfe_orig], per[nfe]
            per_seed.append({name: (row[key] / ref[key] if how == "ratio" else
                                    row[key] - ref[key] if how == "diff" else row[key])
                             for name, key, how in METRICS})
        out[nfe] = {name: statistics.fmean(s[name] for s in per_seed) for name, _, _ in METRICS}
    return out


def _spread(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else math.nan


def compare(rows: list[dict], original: dict, reference: str = "current") -> dict:
    """``{"original_nfe", "reference", "variants": {variant: {nfe: {metric: stats}}}}`` with
    ``stats = {mean, sd, n, seeds}`` plus ``diff, se, n_paired`` where the reference variant
    ran on some of the same training seeds (``se`` is NaN for a single pair)."""
    nfe_orig = original_nfe(original)
    table: dict[str, dict[int, dict]] = {}
    for row in rows:
        table.setdefault(row["variant"], {})[int(row["seed"])] = relative(
            row["scores"], original, nfe_orig)
    result: dict = {"original_nfe": nfe_orig, "reference": reference, "variants": {}}
    base = table.get(reference, {})
    for variant, by_seed in sorted(table.items()):
        seeds = sorted(by_seed)
        nfes = sorted(set.intersection(*(set(by_seed[s]) for s in seeds)), key=str)
        per_nfe: dict = {}
        for nfe in nfes:
            per_nfe[nfe] = {}
            for name, _, _ in METRICS:
                mean, sd = _spread([by_seed[s][nfe][name] for s in seeds])
                stats = {"mean": mean, "sd": sd, "n": len(seeds), "seeds": seeds}
                paired = [by_seed[s][nfe][name] - base[s][nfe][name] for s in seeds
                          if s in base and nfe in base[s]]
                if paired and variant != reference:
                    diff, sd_diff = _spread(paired)
                    stats |= {"diff": diff, "se": sd_diff / math.sqrt(len(paired)),
                              "n_paired": len(paired)}
                per_nfe[nfe][name] = stats
        result["variants"][variant] = per_nfe
    return result


def _pm(spread: float) -> str:
    return "" if math.isnan(spread) else f" ± {spread:.3f}"  # one seed: no spread to show


def markdown(result: dict, nfe: str = "1") -> str:
    """One row per variant at ``nfe``: mean ± sd over training seeds for each metric, and
    the paired difference to the reference ± its standard error (no ± for a single seed or
    a single pair)."""
    names = [name for name, _, _ in METRICS]
    lines = [f"At {nfe} NFE, against the original at {result['original_nfe']} NFE; "
             f"mean ± sd over training seeds, then [paired difference to "
             f"`{result['reference']}` ± standard error].", "",
             "| variant | seeds | " + " | ".join(names) + " |",
             "|---" * (len(names) + 2) + "|"]
    for variant, per_nfe in result["variants"].items():
        if nfe not in per_nfe:
            continue
        stats = per_nfe[nfe]
        cells = []
        for name in names:
            s = stats[name]
            sign = "+" if name == "recall_diff" else ""
            cell = f"{s['mean']:{sign}.3f}" + _pm(s["sd"])
            if "diff" in s:
                cell += f" [{s['diff']:+.3f}{_pm(s['se'])}]"
            cells.append(cell)
        seeds = ",".join(str(s) for s in stats[names[0]]["seeds"])
        lines.append(f"| {variant} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = ["METRICS", "compare", "markdown", "original_nfe", "relative"]
