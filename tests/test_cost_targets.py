"""benchmarks/cost_targets.py on hand-made benchmark results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import cost_targets  # noqa: E402

MACHINE = {"gpu": "NVIDIA H100 80GB HBM3", "cpu": "x", "threads": 16, "torch": "2.11.0",
           "date": "2026-12-07 20:00 UTC"}


def step_row(method: str, ema: bool, ratios: tuple[float, float, float], ms: float) -> dict:
    lo, mid, hi = ratios
    return {"network": "digits", "batch": 512, "method": method, "ema": ema,
            "ratio_min": lo, "ratio_median": mid, "ratio_max": hi, "step_ms_median": ms}


def write(folder: Path) -> None:
    rows = [step_row("flow_matching", True, (1, 1, 1), 14.5),
            step_row("rcgm", True, (1.2, 1.9, 3.6), 27.0),
            step_row("twinflow", True, (2.0, 2.1, 2.3), 30.4)]
    (folder / "step_cost.json").write_text(json.dumps(
        {"machine": MACHINE, "repeats": 20, "rows": rows}))
    sampling = [
        {"network": "digits", "batch": 1, "what": "bare call", "ms_median": 2.75},
        {"network": "digits", "batch": 1, "what": "sampler 1 NFE", "ms_median": 2.8,
         "ratio_min": 1.01, "ratio_median": 1.02, "ratio_max": 1.04},
        {"network": "digits", "batch": 64, "what": "bare call", "ms_median": 3.0},
        {"network": "digits", "batch": 64, "what": "sampler 1 NFE", "ms_median": 4.0,
         "ratio_min": 1.3, "ratio_median": 1.33, "ratio_max": 1.4},
    ]
    (folder / "sampling_cost.json").write_text(json.dumps(
        {"machine": MACHINE, "repeats": 50, "rows": sampling}))


def test_each_ratio_is_judged_against_its_target(tmp_path):
    write(tmp_path)
    text = cost_targets.report(tmp_path)
    assert text.startswith("Cost targets, NVIDIA H100 80GB HBM3, torch 2.11.0")
    lines = text.splitlines()
    rcgm = next(ln for ln in lines if "rcgm / flow matching" in ln)
    twin = next(ln for ln in lines if "twinflow / flow matching" in ln)
    assert "1.90x" in rcgm and "spread 3.00" in rcgm and rcgm.endswith("**met**")
    assert "2.10x" in twin and twin.endswith("**missed**")
    assert not any("flow_matching / flow matching" in ln for ln in lines)
    sampler = [ln for ln in lines if "1 NFE / bare call" in ln]
    assert len(sampler) == 1  # batch 1 only
    assert "1.020x" in sampler[0] and "2.75 ms" in sampler[0] and sampler[0].endswith("**met**")
    # a stricter target flips the verdicts
    strict = cost_targets.report(tmp_path, step_target=1.5, sampler_target=1.01)
    assert strict.count("**missed**") == 3


def test_a_cpu_run_is_held_to_the_cpu_target(tmp_path):
    write(tmp_path)
    for name in ("step_cost", "sampling_cost"):
        path = tmp_path / f"{name}.json"
        result = json.loads(path.read_text())
        result["machine"] |= {"gpu": None, "cpu": "AMD EPYC", "threads": 2}
        path.write_text(json.dumps(result))
    text = cost_targets.report(tmp_path)
    assert text.startswith("Cost targets, AMD EPYC, 2 threads")
    rcgm = next(ln for ln in text.splitlines() if "rcgm / flow matching" in ln)
    assert "<= 1.81x" in rcgm and rcgm.endswith("**missed**")  # 1.90x: met on a GPU


def test_the_command_writes_targets_md_and_names_a_missing_file(tmp_path, capsys):
    write(tmp_path)
    cost_targets.main([str(tmp_path)])
    assert (tmp_path / "targets.md").read_text() in capsys.readouterr().out
    (tmp_path / "sampling_cost.json").unlink()
    with pytest.raises(SystemExit, match="sampling_cost.json not found: run benchmarks/"):
        cost_targets.main([str(tmp_path)])
