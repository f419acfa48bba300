"""The cost targets, read off one folder's ``step_cost.json`` and ``sampling_cost.json``.

    python benchmarks/cost_targets.py runs/bench_cuda      # prints and writes targets.md

* training: TwinFlow's step over flow matching's (median of the per-repeat ratios, same
  network, batch and EMA setting) at most ``--step-target``: 2.0 on a GPU, 1.81 on a CPU
  (the ratio first measured there, to be kept); RCGM's too, with its spread (max / min ratio
  over repeats) shown, since erratic RCGM steps were a finding;
* sampling: the 1-NFE sampler over a bare network call at batch 1 at most
  ``--sampler-target`` (1.05).

Each line says met or missed with the measured numbers; the machine line comes from the
files.  A missing file is an error that names it (run the benchmark first).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load(folder: Path, name: str) -> dict:
    path = folder / f"{name}.json"
    if not path.is_file():
        raise SystemExit(f"error: {path} not found: run benchmarks/{name}.py --out {folder}")
    return json.loads(path.read_text())


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "missed"


def step_lines(result: dict, target: float) -> list[str]:
    """One line per (network, batch, EMA) and method (RCGM, TwinFlow)."""
    lines = []
    for r in result["rows"]:
        if r["method"] == "flow_matching":
            continue
        spread = r["ratio_max"] / r["ratio_min"] if r["ratio_min"] > 0 else float("inf")
        lines.append(
            f"- {r['network']} batch {r['batch']}, EMA {'on' if r['ema'] else 'off'}: "
            f"{r['method']} / flow matching {r['ratio_median']:.2f}x (min {r['ratio_min']:.2f}, "
            f"max {r['ratio_max']:.2f}, spread {spread:.2f}; {r['step_ms_median']:.1f} ms) "
            f"<= {target:.2f}x: **{verdict(r['ratio_median'], target)}**")
    return lines


def sampler_lines(result: dict, target: float) -> list[str]:
    """One line per network whose 1-NFE sampler was timed at batch 1."""
    bare = {(r["network"], r["batch"]): r["ms_median"]
            for r in result["rows"] if r["what"] == "bare call"}
    lines = []
    for r in result["rows"]:
        if r["what"] != "sampler 1 NFE" or r["batch"] != 1:
            continue
        lines.append(
            f"- {r['network']} batch 1: 1 NFE / bare call {r['ratio_median']:.3f}x "
            f"(min {r['ratio_min']:.3f}, max {r['ratio_max']:.3f}; bare call "
            f"{bare[r['network'], 1]:.2f} ms) <= {target:.2f}x: "
            f"**{verdict(r['ratio_median'], target)}**")
    return lines


GPU_STEP_TARGET, CPU_STEP_TARGET = 2.0, 1.81


def report(folder: Path, step_target: float | None = None, sampler_target: float = 1.05) -> str:
    """The targets as markdown; ``step_target`` ``None``: the GPU's or the CPU's, by where
    ``step_cost`` ran."""
    steps, sampling = load(folder, "step_cost"), load(folder, "sampling_cost")
    m = steps["machine"]
    if step_target is None:
        step_target = GPU_STEP_TARGET if m["gpu"] else CPU_STEP_TARGET
    where = m["gpu"] or f"{m['cpu']}, {m['threads']} threads"
    return "\n".join([
        f"Cost targets, {where}, torch {m['torch']}, {m['date']} "
        f"({steps['repeats']} step repeats, {sampling['repeats']} sampler pairs)", "",
        "Training step:", *step_lines(steps, step_target), "",
        "Sampling:", *sampler_lines(sampling, sampler_target), ""])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path, help="the --out folder of step_cost and sampling_cost")
    p.add_argument("--step-target", type=float,
                   help=f"default {GPU_STEP_TARGET} on a GPU, {CPU_STEP_TARGET} on a CPU")
    p.add_argument("--sampler-target", type=float, default=1.05)
    args = p.parse_args(argv)
    text = report(args.folder, args.step_target, args.sampler_target)
    (args.folder / "targets.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
