"""``MLFlowLogger``: Lightning's MLflow logger on the project's one store, made reviewable.

Differences from ``lightning.pytorch.loggers.MLFlowLogger`` (same arguments otherwise):

* the store defaults to the project's (``tracking/store.py``), opened under a lock, with
  moved artifact paths repaired and this host's dead ``RUNNING`` runs marked ``KILLED``;
* the experiment opens on MLflow 3's runs view ("model training"), not the GenAI view;
* each run is tagged with its host, pid and git commit (objective, phase, backbone and data
  come from the config, ``tracking/params.py``);
* system metrics (CPU, memory, disk, network; GPU when present) are sampled into
  ``system/*`` while the run lives (``system_metrics: false`` turns them off);
* Lightning's ``epoch`` metric (constant in step-based training) is not logged.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import MLFlowLogger as _LightningMLFlowLogger
from lightning.pytorch.loggers.logger import rank_zero_experiment

from twinflow.tracking.store import (
    artifact_root,
    end_stale_runs,
    open_store,
    store_uri,
    this_process,
)

RUNS_VIEW = {"mlflow.experimentKind": "custom_model_development"}


def git_commit(where: Path | None = None) -> str | None:
    """The checkout's commit (``+dirty`` with uncommitted changes), or ``None`` outside git."""
    where = where or Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                              text=True, timeout=10)
        if head.returncode:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=where, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.strip() else "")


class MLFlowLogger(_LightningMLFlowLogger):
    """Args: as Lightning's ``MLFlowLogger``, plus

    system_metrics: sample system metrics into the run (MLflow's monitor thread).
    system_metrics_interval: seconds between samples.
    """

    def __init__(
        self,
        experiment_name: str = "twinflow",
        run_name: str | None = None,
        tracking_uri: str | None = None,
        tags: dict[str, Any] | None = None,
        artifact_location: str | None = None,
        run_id: str | None = None,
        log_model: bool = False,
        prefix: str = "",
        synchronous: bool | None = None,
        system_metrics: bool = True,
        system_metrics_interval: float = 10.0,
    ) -> None:
        tracking_uri = tracking_uri or store_uri()
        super().__init__(
            experiment_name=experiment_name, run_name=run_name, tracking_uri=tracking_uri,
            tags=tags, artifact_location=artifact_location or artifact_root(tracking_uri),
            run_id=run_id, log_model=log_model, prefix=prefix, synchronous=synchronous,
        )
        if system_metrics_interval <= 0:
            raise ValueError(f"system_metrics_interval must be > 0, got {system_metrics_interval}")
        self.system_metrics, self.system_metrics_interval = system_metrics, system_metrics_interval
        self._monitor = None

    @property
    def tracking_uri(self) -> str:
        return self._tracking_uri

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        if self._initialized:
            return self._mlflow_client
        open_store(self._tracking_uri)  # before MLflow touches it: one line if it is broken
        client = super().experiment
        for key, value in RUNS_VIEW.items():
            client.set_experiment_tag(self._experiment_id, key, value)
        for key, value in {**this_process(), "twinflow.git_commit": git_commit()}.items():
            if value:
                client.set_tag(self._run_id, key, value)
        end_stale_runs(self._tracking_uri, self._experiment_id, keep=self._run_id)
        if self.system_metrics:
            self._start_monitor()
        return client

    def _start_monitor(self) -> None:
        try:
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor
        except ImportError:  # psutil missing: the run still logs everything else
            return
        self._monitor = SystemMetricsMonitor(
            self._run_id, sampling_interval=self.system_metrics_interval,
            tracking_uri=self._tracking_uri)
        self._monitor.start()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        # Lightning adds "epoch" to every dict; step-based training keeps it at 0.
        super().log_metrics({k: v for k, v in metrics.items() if k != "epoch"}, step)

    def finalize(self, status: str = "success") -> None:
        if self._monitor is not None:
            self._monitor.finish()
            self._monitor = None
        super().finalize(status)


__all__ = ["MLFlowLogger", "git_commit"]
