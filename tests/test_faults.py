"""Faults as real processes: kill -9 mid-step and mid-checkpoint-write, Ctrl-C, two fits in one
folder.

Each fit is the tiny toy of ``tests/helpers.toy_config`` (a 2-layer MLP, six steps).  The
killed fits run as subprocesses held at an exact moment by ``tests/fault_probe.py``; their
resumes run in this process and must end on the same weights, bit for bit on CPU, as an
uninterrupted run of the same config.  SIGTERM is in ``tests/test_run_folder.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from tests.helpers import ROOT, run_cli, toy_config
from twinflow.run_folder import LOCK_NAME

STEPS = 6


def _config(root: Path, steps: int = STEPS) -> Path:
    """The toy config, checkpointing every 2 steps with ``last.ckpt`` kept up to date."""
    path = toy_config(root, steps=steps, ckpt_every=2)
    cfg = yaml.safe_load(path.read_text())
    cfg["trainer"]["callbacks"][1]["init_args"]["save_last"] = True
    path.write_text(yaml.safe_dump(cfg))
    return path


def _start(args: list[str], env: dict | None = None, module: str = "twinflow.cli"):
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 240) -> str:
    deadline = time.time() + seconds
    while not path.exists() and time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the fit ended before {path.name}: {proc.communicate()[1][-2000:]}")
        time.sleep(0.1)
    assert path.exists(), f"{path.name} never appeared"
    time.sleep(0.1)  # the probe writes the marker, then holds
    return path.read_text()


def _kill9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def _step_of(ckpt: Path) -> int:
    """The global step of a complete checkpoint (a truncated one fails to load)."""
    return torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"]


def _same_weights(a: Path, b: Path) -> None:
    wa, wb = load_file(a / "export" / "model.safetensors"), load_file(b / "export" /
                                                                      "model.safetensors")
    assert wa.keys() == wb.keys() and any(k.startswith("ema.") for k in wa)
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("uninterrupted")
    run_cli("fit", "--config", str(_config(root)))
    assert _step_of(root / "checkpoints" / "last.ckpt") == STEPS
    return root


def test_kill_9_mid_step_then_resume_equals_an_uninterrupted_run(tmp_path, uninterrupted):
    run, held = tmp_path / "run", tmp_path / "held"
    probe = json.dumps({"class_path": "tests.fault_probe.PauseAtStep",
                        "init_args": {"path": str(held), "step": 5}})
    proc = _start(["fit", "--config", str(_config(run)), f"--trainer.callbacks+={probe}"])
    _wait_for(held, proc)  # inside step 6: backward done, optimizer step not yet taken
    last = run / "checkpoints" / "last.ckpt"
    assert _step_of(last) == 4
    _kill9(proc)
    assert _step_of(last) == 4  # still complete after the kill
    assert (run / LOCK_NAME).exists()  # left by the killed fit...
    run_cli("fit", "--config", str(_config(run)), "--ckpt_path", str(last))  # ...taken over
    assert _step_of(last) == STEPS
    _same_weights(run, uninterrupted)


def test_kill_9_mid_checkpoint_write_keeps_the_previous_checkpoint(tmp_path, uninterrupted):
    run, held = tmp_path / "run", tmp_path / "held"
    proc = _start(["fit", "--config", str(_config(run))], module="tests.fault_probe",
                  env={"TWINFLOW_TEST_PAUSE_SAVE": f"{held}:4:last.ckpt"})
    written = Path(_wait_for(held, proc).split(" ", 1)[1])  # half of step 4's last.ckpt is out
    last = run / "checkpoints" / "last.ckpt"
    # The half-written file is a temporary beside the target (one filesystem: the rename is
    # atomic), never last.ckpt itself.
    assert written.parent == last.parent and written.name != last.name, written
    assert written.is_file() and written.stat().st_size > 0
    _kill9(proc)
    assert _step_of(last) == 2  # the previous complete checkpoint, untouched
    assert _step_of(last.with_name("step=4.ckpt")) == 4  # written before last.ckpt
    run_cli("fit", "--config", str(_config(run)), "--ckpt_path", str(last))
    assert _step_of(last) == STEPS
    assert not written.exists()  # the dead writer's temporary is removed at the next save
    assert not [p.name for p in last.parent.iterdir() if p.name.startswith(".")]
    _same_weights(run, uninterrupted)


def test_ctrl_c_mid_step_saves_interrupted_ckpt_beside_last(tmp_path):
    run, held = tmp_path / "run", tmp_path / "held"
    probe = json.dumps({"class_path": "tests.fault_probe.PauseAtStep",
                        "init_args": {"path": str(held), "step": 5}})
    proc = _start(["fit", "--config", str(_config(run)), f"--trainer.callbacks+={probe}"])
    _wait_for(held, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "Traceback" not in err, err[-2000:]
    last, interrupted = run / "checkpoints" / "last.ckpt", run / "checkpoints" / "interrupted.ckpt"
    assert _step_of(last) == 4  # the last whole-step checkpoint is not replaced...
    assert _step_of(interrupted) == 5  # ...the state at the interruption is saved beside it
    assert not (run / "export").exists() and not (run / LOCK_NAME).exists()
    run_cli("fit", "--config", str(_config(run)), "--ckpt_path", str(interrupted))
    assert _step_of(last) == STEPS


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("mlflow", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_two_fits_started_together_in_one_folder_one_runs_the_other_refuses(tmp_path, mlflow):
    """With the MLflow logger on (slow: two MLflow imports), the loser also never reaches the
    store: it refuses before its logger is built."""
    run, held, release = tmp_path / "run", tmp_path / "held", tmp_path / "release"
    config = _config(run, steps=3)
    (run / "notes.txt").write_text("the user's own file\n")
    before = _hashes(run)
    probe = json.dumps({"class_path": "tests.fault_probe.PauseAtStep",
                        "init_args": {"path": str(held), "step": 1, "release": str(release)}})
    logger = json.dumps({"class_path": "twinflow.tracking.MLFlowLogger",
                         "init_args": {"experiment_name": "faults", "system_metrics": False}})
    args = ["fit", "--config", str(config), f"--trainer.callbacks+={probe}",
            f"--trainer.logger={logger if mlflow else 'false'}"]
    procs = [_start(args), _start(args)]
    deadline = time.time() + 240
    while all(p.poll() is None for p in procs) and time.time() < deadline:
        time.sleep(0.1)  # the winner holds at step 1 until the loser has exited
    release.write_text("go")
    outs = [p.communicate(timeout=240) for p in procs]
    codes = [p.returncode for p in procs]
    assert sorted(c == 0 for c in codes) == [False, True], [o[1][-1500:] for o in outs]
    loser_err = outs[codes.index(next(c for c in codes if c != 0))][1]
    errors = [ln for ln in loser_err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in loser_err, loser_err[-2000:]
    assert "in use by another fit" in errors[0] and LOCK_NAME in errors[0]
    after = _hashes(run)
    assert {k: after[k] for k in before} == before  # the user's files are untouched
    assert _step_of(run / "checkpoints" / "last.ckpt") == 3  # the winner finished
    assert (run / "export" / "model.safetensors").is_file() and not (run / LOCK_NAME).exists()
    if mlflow:
        from mlflow import MlflowClient

        from twinflow.tracking.params import read_run_record

        record = read_run_record(run)
        client = MlflowClient(record["tracking_uri"])
        assert client.get_run(record["run_id"]).info.status == "FINISHED"
        assert len(client.search_runs([record["experiment_id"]])) == 1  # the loser made none
