"""The run-folder rule: a new fit never replaces an earlier run; one fit per folder at a time."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from twinflow.run_folder import LOCK_NAME, check_run_folder, lock_run_folder

ROOT = Path(__file__).resolve().parents[1]


def _fit(run_dir: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "twinflow.cli", "fit", "--config", "experiments/toy_gmm.yaml",
           "--trainer.default_root_dir", str(run_dir), "--trainer.max_steps", "2",
           "--trainer.logger", "false", "--trainer.val_check_interval", "2", *extra]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_second_fit_refuses_and_a_resume_replaces_last_in_place(tmp_path):
    run = tmp_path / "run"
    first = _fit(run)
    assert first.returncode == 0, first.stderr[-2000:]
    # shorter than the checkpoint interval, and still a checkpoint at the end
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "export").is_dir()
    before = _hashes(run)
    again = _fit(run)
    errors = [ln for ln in again.stderr.splitlines() if ln.startswith("error:")]
    assert again.returncode != 0 and len(errors) == 1, again.stderr[-2000:]
    assert "already holds a run" in errors[0] and "TWINFLOW_OVERWRITE" in errors[0]
    assert "Traceback" not in again.stderr
    assert _hashes(run) == before  # nothing touched
    resumed = _fit(run, "--trainer.max_steps", "3", "--ckpt_path",
                   str(run / "checkpoints" / "last.ckpt"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert "last.ckpt" in names and not [n for n in names if "-v" in n], names
    assert not (run / LOCK_NAME).exists()  # released at exit


def test_overwrite_is_explicit(tmp_path):
    (tmp_path / "export").mkdir()
    with pytest.raises(SystemExit, match="already holds a run"):
        check_run_folder(tmp_path, resuming=False)
    check_run_folder(tmp_path, resuming=True)
    os.environ["TWINFLOW_OVERWRITE"] = "1"
    try:
        check_run_folder(tmp_path, resuming=False)
    finally:
        del os.environ["TWINFLOW_OVERWRITE"]


def test_a_live_lock_refuses_and_a_stale_one_is_taken_over(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": sleeper.pid,
                                                      "host": socket.gethostname()}))
        with pytest.raises(SystemExit, match="in use by another fit"):
            lock_run_folder(tmp_path)
    finally:
        sleeper.kill()
        sleeper.wait()
    lock_run_folder(tmp_path)  # its process is gone: taken over
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    lock_run_folder(tmp_path)  # re-entrant in one process


def test_demo_refuses_before_phase_1_when_phase_2_folder_holds_a_run(tmp_path):
    (tmp_path / "twinflow" / "export").mkdir(parents=True)
    out = subprocess.run([sys.executable, "-m", "twinflow.cli", "demo", "--run-dir",
                          str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert out.returncode != 0 and len(errors) == 1, out.stderr[-2000:]
    assert str(tmp_path / "twinflow") in errors[0]
    assert not (tmp_path / "pretrain").exists()  # phase 1 never started


def test_sigterm_saves_a_checkpoint_that_resumes(tmp_path):
    import signal
    import time

    run, started = tmp_path / "run", tmp_path / "started"
    probe = json.dumps({"class_path": "tests.step_probe.TouchAtStep",
                        "init_args": {"path": str(started), "step": 3}})
    # with the config's MLflow logger (the session's store, tests/conftest.py)
    cmd = [sys.executable, "-m", "twinflow.cli", "fit", "--config", "experiments/toy_gmm.yaml",
           "--trainer.default_root_dir", str(run), "--trainer.max_steps", "100000",
           "--trainer.val_check_interval", "100000", f"--trainer.callbacks+={probe}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not started.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert started.exists(), proc.communicate()[1][-2000:] if proc.poll() is not None else "slow"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0  # stopped, not finished
    last = run / "checkpoints" / "last.ckpt"
    assert last.is_file(), err[-2000:]
    import torch

    step = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    assert step >= 3
    assert not (run / "export").exists()  # no export of an unfinished run
    from mlflow import MlflowClient

    from twinflow.tracking.params import read_run_record

    record = read_run_record(run)  # the stopped run is closed as FAILED, not left RUNNING
    assert MlflowClient(record["tracking_uri"]).get_run(record["run_id"]).info.status == "FAILED"
    resumed = _fit(run, "--trainer.max_steps", str(step + 1), "--ckpt_path", str(last))
    assert resumed.returncode == 0, resumed.stderr[-2000:]


def test_validate_in_a_trained_run_folder_leaves_the_fits_files_alone(tmp_path):
    from tests.helpers import run_cli, toy_config

    run = tmp_path / "run"
    logger = json.dumps({"class_path": "twinflow.tracking.MLFlowLogger",
                         "init_args": {"experiment_name": "validate-here",
                                       "system_metrics": False}})
    config = str(toy_config(run, steps=2, ckpt_every=2))
    run_cli("fit", "--config", config, f"--trainer.logger={logger}")
    assert (run / "mlflow_run.json").is_file() and (run / "config.yaml").is_file()
    before = _hashes(run)
    run_cli("validate", "--config", config, f"--trainer.logger={logger}", "--ckpt_path",
            str(run / "checkpoints" / "last.ckpt"))
    after = _hashes(run)
    assert {k: after.get(k) for k in before} == before  # config.yaml, mlflow_run.json, weights
    assert "config.validate.yaml" in after
