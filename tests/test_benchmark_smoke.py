"""The benchmark scripts run end to end at tiny size (they are not part of the timed tables)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_zero3_scale_runs_the_module_step_under_zero3(tmp_path):
    pytest.importorskip("deepspeed")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(ROOT / "benchmarks/zero3_scale.py"), "--tiny", "--cpu",
           "--resolution", "128", "--layers", "2", "--steps", "2", "--warmup", "1",
           "--out", str(tmp_path)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [r["backbone"] for r in rows] == ["sana", "qwen"]
    for row in rows:
        assert row["steps_timed"] == 2 and row["skipped_steps"] == 0
        assert row["step_s_min"] > 0 and row["parameters"] > 1000
        assert row["plan_model_states_gb"] > 0


def test_quality_vs_nfe_runs_the_module_step_and_writes_its_outputs(tmp_path):
    """One seed, a few steps per method, 2 samples per digit: every method is trained through
    TwinFlowModule under a Trainer and scored; the table, plots and JSON are written."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MLFLOW_TRACKING_URI":
           f"sqlite:///{tmp_path / 'mlflow.db'}"}
    cmd = [sys.executable, str(ROOT / "benchmarks/quality_vs_nfe.py"), "--out", str(tmp_path),
           "--seeds", "1", "--fm-steps", "2", "--per-digit", "2", "--jobs", "1",
           "--steps", "flow_matching=2", "twinflow=1", "--methods", "flow_matching", "twinflow"]
    # About 30 s of CPU; a shared, loaded machine has taken over 300 s of wall time.
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["steps"] == {"flow_matching": 2, "twinflow": 1}
    assert sorted(results["summary"]["flow_matching"]) == ["1", "2", "4", "8", "multi"]
    assert sorted(results["summary"]["twinflow"]) == ["1", "2", "4", "8"]
    for per_nfe in results["summary"].values():
        for metrics in per_nfe.values():
            assert metrics["fd"]["n"] == 1 and metrics["fd"]["mean"] > 0
    assert results["original"]["multi"]["fd"] > 0
    for name in ("fd_vs_nfe.png", "fd_vs_lambda.png", "grids.png", "results.md"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "| TwinFlow | 1 |" in (tmp_path / "results.md").read_text()


def _bench(tmp_path, script: str, *args: str, env: dict | None = None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    cmd = [sys.executable, str(ROOT / "benchmarks" / script), "--out", str(tmp_path),
           "--threads", "1", *args]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    stem = script.removesuffix(".py")
    table = (tmp_path / f"{stem}.md").read_text()
    assert table in run.stdout and table.count("\n") >= 3
    return json.loads((tmp_path / f"{stem}.json").read_text())


# The recipe's guidance is `precision: auto`: pinned here, since whether bf16 pays is
# measured per machine (an fp32 guidance pair joins another no-grad call).
@pytest.mark.parametrize("bf16, nograd_calls", [("1", 4), ("0", 3)])
def test_step_cost_measures_the_three_methods_with_and_without_ema(tmp_path, bf16, nograd_calls):
    result = _bench(tmp_path, "step_cost.py", "--network", "toy", "--batch", "8",
                    "--repeats", "1", "--warmup", "0", env={"TWINFLOW_BF16": bf16})
    rows = {(r["method"], r["ema"]): r for r in result["rows"]}
    assert len(rows) == 6 and result["machine"]["threads"] == 1
    for ema in (True, False):
        fm, twin = rows["flow_matching", ema], rows["twinflow", ema]
        assert fm["fwd_equiv_per_row"] == 3.0 and (fm["calls_grad"], fm["calls_nograd"]) == (1, 0)
        assert fm["ratio_median"] == 1.0 and twin["step_ms_median"] > 0
        assert twin["fwd_equiv_per_row"] > 3.0 and rows["rcgm", ema]["fwd_equiv_per_row"] > 3.0
        # memory and calls come from the child process (its own allocator setting)
        assert twin["peak_mb"] > twin["step_peak_mb"] >= 0 and twin["peak_ratio"] > 0
    # without EMA, a bf16 guidance pair is its own call: 4 no-grad calls (fakes, guidance
    # pair, sub-step 1 + rectify probe, sub-step 2); in fp32 it shares a call with the other
    # online-network passes: 3.
    # With an EMA target (another network) 5 either way.
    assert rows["twinflow", False]["calls_nograd"] == nograd_calls
    assert rows["twinflow", True]["calls_nograd"] == 5


def test_sampling_cost_times_each_nfe_and_the_bare_call(tmp_path):
    result = _bench(tmp_path, "sampling_cost.py", "--network", "toy", "--nfe", "1", "2", "4",
                    "--batch", "1", "8", "--repeats", "3", "--warmup", "1")
    whats = [(r["batch"], r["what"]) for r in result["rows"]]
    assert whats == [(b, w) for b in (1, 8) for w in
                     ("bare call", "sampler 1 NFE", "sampler 2 NFE", "sampler 4 NFE")]
    assert all(r["ms_median"] > 0 for r in result["rows"])
    assert all(r["ratio_min"] <= r["ratio_median"] <= r["ratio_max"]
               for r in result["rows"] if "ratio_median" in r)


def test_recipe_sweep_compares_variants_over_training_and_sampling_seeds(tmp_path):
    """Two variants, one step each (budget 0 s), scored on two sampling seeds; the original is
    scored on the same seeds and the summary pairs the variants by training seed (the
    statistics themselves: tests/test_seed_summary.py)."""
    import yaml

    from tests.helpers import load_experiment
    from twinflow.export import build_module, export_module

    config = load_experiment("digits_fm")["model"] | {"ema_decay": None}
    config.pop("optimizer", None)
    module = build_module(config)
    module.configure_model()
    module.model_config = yaml.safe_dump(config, sort_keys=False)
    pretrained = export_module(module, tmp_path / "pretrained")
    out = tmp_path / "sweep"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(ROOT / "benchmarks/recipe_sweep.py"), "run", "--pretrained",
           str(pretrained), "--out", str(out), "--variants", "current", "reference",
           "--seeds", "3", "--score-seeds", "5", "6", "--per-digit", "1",
           "--jobs", "2", "--budget-s", "0"]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    original = json.loads((out / "original_model.json").read_text())
    assert sorted(original["scores"]) == ["5", "6"]
    assert sorted(original["scores"]["5"]) == ["16", "32", "64"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reference"] == "current"
    assert sorted(summary["steps"]) == ["current_s3", "reference_s3"]
    assert all(step == 1 for step, _ in summary["steps"].values())
    ref = summary["variants"]["reference"]
    assert sorted(ref) == ["1", "2", "4"]
    pixel = ref["1"]["fd_pixel_ratio"]
    assert pixel["n"] == 1 and pixel["n_paired"] == 1 and pixel["mean"] > 0
    assert "| reference | 3 |" in run.stdout
    assert (out / "summary.md").read_text().strip() in run.stdout
    # a result from another sample count in the same folder is refused, not averaged in
    stale = json.loads((out / "current_s3.json").read_text()) | {"per_digit": 100, "seed": 9}
    (out / "current_s9.json").write_text(json.dumps(stale))
    again = subprocess.run([sys.executable, str(ROOT / "benchmarks/recipe_sweep.py"), "summary",
                            "--out", str(out)], env=env, capture_output=True, text=True)
    assert again.returncode == 1
    assert "current_s9.json was fine-tuned from" in again.stderr
    assert "give each comparison its own --out" in again.stderr


def test_benchmark_fine_tune_trains_exactly_as_twinflow_fit(tmp_path):
    """One training path: the benchmarks' ``fine_tune`` (the sweep's and quality_vs_nfe's
    fits) and ``twinflow fit`` of the demo's phase-2 config, same seed and thread count, end
    with the same weights bit for bit; the fit's validation in between (loss, grids, digit
    scores) draws no training randomness."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, str(ROOT / "tests/fit_path_probe.py"), str(tmp_path),
                          "4"], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["steps"] == 4 and result["ema_updates"] == 4
    assert result["tensors"]["network."] == result["tensors"]["ema.shadow."] > 50
    assert result["max_abs_diff"] == {"network.": 0.0, "ema.shadow.": 0.0}


def test_the_prepared_cuda_check_rehearses_on_the_cpu(tmp_path):
    """benchmarks/cuda_check.sh (the GPU machine's one command) end to end on the toy network
    on the CPU: both benchmarks and the targets; five files, as the GPU machine returns."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHON": sys.executable,
           "CHECK_DEVICE": "cpu", "CHECK_NETWORKS": "toy", "CHECK_QUICK": "1",
           "CHECK_REPEATS": "1", "CHECK_SITE": str(tmp_path / "site")}
    out = tmp_path / "out"
    run = subprocess.run(["bash", str(ROOT / "benchmarks/cuda_check.sh"), str(out)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == [
        "sampling_cost.json", "sampling_cost.md", "step_cost.json", "step_cost.md",
        "targets.md"]
    targets = (out / "targets.md").read_text()
    assert targets in run.stdout and "no GPU" in run.stdout
    assert targets.count("- toy batch 64, EMA") == 4  # RCGM and TwinFlow, EMA on and off
    assert targets.count("- toy batch 1: 1 NFE / bare call") == 1
