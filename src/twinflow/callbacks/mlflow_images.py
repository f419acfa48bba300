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


def log_image(trainer: L.Trainer, image, key: str, step: int) -> None:
    """Log ``image`` ``(H, W, C)`` uint8 under ``key`` at ``step`` to every MLflow run.

    MLflow keeps one image per step for a key, so the run's Images view has a step slider.
    """
    for logger in trainer.loggers:
        if isinstance(logger, MLFlowLogger) and trainer.is_global_zero:
            flat = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
            logger.experiment.log_image(logger.run_id, flat, key=key, step=step)


def log_metrics(trainer: L.Trainer, metrics: dict[str, float], step: int) -> None:
    """``metrics`` at ``step`` to every logger (rank 0).  Used for scores of the model after
    ``step`` optimizer steps, at the same step as that model's sample grids (``self.log``
    in a validation hook would log them one step earlier)."""
    if trainer.is_global_zero:
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)
