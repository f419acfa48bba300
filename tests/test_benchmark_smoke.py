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
