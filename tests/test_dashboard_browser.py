"""`twinflow dashboard-check` in a real headless Chromium against `mlflow ui`.

Skipped only where no Chromium is installed (Debian: `apt-get install chromium`; CI's `.ci/run`
installs it best-effort).  The fast test logs a small store with MLflow's client (a pretrain
run and a fine-tune nested under it, with one grid's file removed so the check must notice);
the slow one runs the check on a miniature `make demo` + `make compare` study.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from twinflow.tracking.browser import find_chromium

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(find_chromium() is None,
                                reason="no Chromium (apt-get install chromium, or set CHROMIUM)")


def _small_store(root: Path) -> str:
    """Two runs as the fits log them: params, tags, parent, quality at steps 1 and 2, grids."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    from twinflow.tracking.store import artifact_root, open_store

    uri = f"sqlite:///{root / 'mlflow.db'}"
    open_store(uri)
    client = MlflowClient(uri)
    experiment = client.create_experiment(
        "twinflow-digits", artifact_location=artifact_root(uri),
        tags={"mlflow.experimentKind": "custom_model_development"})
    rng = np.random.default_rng(0)
    parent = None
    for name, objective, phase in (("digits_fm", "flow_matching", "pretrain"),
                                   ("digits_twinflow", "twinflow", "fine-tune")):
        tags = {"objective": objective, "phase": phase, "backbone": "DigitsUNet",
                "dataset": "DigitsDataModule"}
        if parent:
            tags["mlflow.parentRunId"] = parent
        run_id = client.create_run(experiment, run_name=name, tags=tags).info.run_id
        parent = parent or run_id
        params = [Param(f"model.net.init_args.width_{i}", str(8 * i)) for i in range(12)]
        params.append(Param("model.objective.init_args.partition.adv", "0.2"))
        metrics = [Metric(f"quality/nfe{n}/{score}", float(rng.random()), 0, step)
                   for n in (1, 2) for score in ("fd", "accuracy") for step in (1, 2)]
        client.log_batch(run_id, params=params, metrics=metrics)
        for step in (1, 2):
            grid = (rng.random((48, 48, 3)) * 255).astype("uint8")
            client.log_image(run_id, grid, key="grids/nfe1", step=step)
        client.set_terminated(run_id)
    # The fine-tune's last grid as a broken file: the page cannot show it.
    (webp,) = (root / "mlartifacts").glob(f"{run_id}/artifacts/images/"
                                          "grids~nfe1+step+2+*compressed.webp")
    webp.write_bytes(b"not an image")
    return uri


def test_the_check_sees_runs_params_tags_quality_and_images(tmp_path):
    from twinflow.tracking.dashboard_check import main

    uri = _small_store(tmp_path / "runs")
    out = tmp_path / "shots"
    with pytest.raises(SystemExit) as err:
        main(["--store", uri, "--out", str(out), "--timeout", "60"])
    message = str(err.value)
    # Everything else was found; the broken grid is the one problem, on one line.
    assert message == ("error: the dashboard misses: run digits_twinflow model metrics does "
                       f"not show image grids/nfe1 at step 2; screenshots in {out}")
    assert {p.name for p in out.glob("*.png")} >= {
        "runs.png", "chart.png", "digits_fm-overview.png", "digits_fm-metrics.png",
        "digits_fm-grids-nfe1.png", "digits_twinflow-overview.png",
        "digits_twinflow-grids-nfe1.png"}


@pytest.mark.slow
def test_the_check_passes_on_a_miniature_study(tmp_path):
    """A miniature `make demo` + `make compare` (RCGM) into one store; all of it is shown."""
    store = tmp_path / "runs" / "mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}", "PYTHONPATH": str(ROOT)}
    run = tmp_path / "runs" / "demo"
    common = ["--fm-steps", "2", "--steps", "2", "--per-digit", "10", "--multi-nfes", "4",
              "--trainer.log_every_n_steps", "1"]
    for extra in ([], ["--pretrained", str(run / "pretrain" / "export"), "--objective", "rcgm"]):
        done = subprocess.run([sys.executable, "-m", "twinflow.cli", "demo", "--run-dir",
                               str(run), *common, *extra], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "shots"
    done = subprocess.run([sys.executable, "-m", "twinflow.cli", "dashboard-check", "--store",
                           f"sqlite:///{store}", "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "dashboard ok" in done.stdout
    names = ("digits_fm", "digits_twinflow", "digits_rcgm")
    for name in names:  # every run's pages, and its 1-NFE grid seen full screen
        assert (out / f"{name}-overview.png").is_file()
        assert (out / f"{name}-grids-nfe1.png").is_file()
    assert (out / "digits_fm-grids-multi32.png").is_file()  # the original model's grid
