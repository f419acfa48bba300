"""Logging images and files to whatever logger the trainer has (MLflow in the shipped configs)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import MLFlowLogger


def run_dir(trainer: L.Trainer) -> Path:
    """The run folder: ``trainer.default_root_dir``."""
    return Path(trainer.default_root_dir)


def log_artifact(trainer: L.Trainer, path: Path, artifact_path: str) -> None:
    """Upload ``path`` to every MLflow logger's run (no-op for other loggers)."""
    for logger in trainer.loggers:
        if isinstance(logger, MLFlowLogger) and trainer.is_global_zero:
            logger.experiment.log_artifact(logger.run_id, str(path), artifact_path)
