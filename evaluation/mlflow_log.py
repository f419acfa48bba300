"""Log one evaluation as one MLflow run: params, metrics and files as artifacts."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

EXPERIMENT = "twinflow-eval"


def default_tracking_uri() -> str:
    """The project's one store (``$MLFLOW_TRACKING_URI`` or ``runs/mlflow.db``), as fits use."""
    from twinflow.tracking.store import store_uri

    return store_uri()


def default_artifact_location(tracking_uri: str, out: str | os.PathLike[str]) -> Path:
    """Beside a SQLite store (``runs/mlartifacts``); ``<out>/mlartifacts`` for other stores."""
    from twinflow.tracking.store import artifact_root

    root = artifact_root(tracking_uri)
    return Path(root) if root else Path(out) / "mlartifacts"


def log_run(
    tracking_uri: str,
    run_name: str,
    params: Mapping[str, object],
    metrics: Mapping[str, float],
    artifacts: Sequence[Path],
    artifact_location: Path,
    experiment: str = EXPERIMENT,
) -> str:
    """Create a run in `experiment` (created with `artifact_location` if new); return its id."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    from twinflow.tracking.store import open_store

    open_store(tracking_uri)  # locked creation, moved artifacts repaired
    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        artifact_location.mkdir(parents=True, exist_ok=True)
        experiment_id = client.create_experiment(experiment, artifact_location.resolve().as_uri())
    else:
        experiment_id = found.experiment_id
    run = client.create_run(experiment_id, run_name=run_name)
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
        params=[Param(str(k), str(v)[:500]) for k, v in params.items()],
        tags=[RunTag("mlflow.source.name", "evaluation.run")],
    )
    for path in artifacts:
        client.log_artifact(run_id, str(path))
    client.set_terminated(run_id)
    return run_id
