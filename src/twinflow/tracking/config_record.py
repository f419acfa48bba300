"""The resolved config of a run, recorded: ``config.yaml`` in the run folder, every leaf as
an MLflow param, the run's tags and parent, and ``mlflow_run.json`` beside the results."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.cli import SaveConfigCallback


class RunDirConfig(SaveConfigCallback):
    """Saves the full resolved config as ``<default_root_dir>/config.yaml`` (and to MLflow).

    ``validate``, ``test`` and ``predict`` often run in a trained run's folder: they save
    ``config.<stage>.yaml`` and leave the fit's ``config.yaml`` and ``mlflow_run.json`` alone.
    """

    def setup(self, trainer, pl_module, stage: str) -> None:
        if self.already_saved or not trainer.is_global_zero:
            return
        name, stage = self.config_filename, str(getattr(stage, "value", stage))
        if stage != "fit":
            name = f"{Path(name).stem}.{stage}{Path(name).suffix}"
        path = Path(trainer.default_root_dir) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        self.parser.save(self.config, path, skip_none=False, overwrite=True, multifile=False)
        from twinflow.callbacks.mlflow_images import log_artifact

        log_artifact(trainer, path, "config")
        log_config_to_mlflow(trainer, plain(self.config), record=stage == "fit")
        self.already_saved = True


def log_config_to_mlflow(trainer, config: dict, record: bool = True) -> None:
    """The resolved config as params, its tags, the parent run; with ``record``,
    ``mlflow_run.json`` beside (the run that made this folder's results)."""
    from lightning.pytorch.loggers import MLFlowLogger
    from mlflow.entities import Param, RunTag

    from twinflow.precision import precision_tags
    from twinflow.tracking.params import config_tags, flat_params, parent_run, write_run_record

    for logger in trainer.loggers:
        if not isinstance(logger, MLFlowLogger):
            continue
        client, run_id = logger.experiment, logger.run_id
        uri = getattr(logger, "_tracking_uri", None) or ""
        params = [Param(k, v) for k, v in sorted(flat_params(config).items())]
        tags = [RunTag(k, v) for k, v in {**config_tags(config), **precision_tags(trainer)}.items()]
        parent = parent_run((config.get("model") or {}).get("init_from"), uri)
        if parent and parent != run_id:
            tags.append(RunTag("mlflow.parentRunId", parent))
        for start in range(0, max(len(params), len(tags)), 100):  # MLflow's batch limit
            client.log_batch(run_id, params=params[start:start + 100],
                             tags=tags[start:start + 100])
        if record:
            write_run_record(Path(trainer.default_root_dir), uri, logger.experiment_id, run_id)


def plain(value: object) -> object:
    """jsonargparse Namespaces -> plain dicts/lists for YAML."""
    if hasattr(value, "as_dict"):
        return plain(value.as_dict())
    if isinstance(value, dict):
        # "__path__" entries record which file a group came from; not init arguments.
        return {k: plain(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


__all__ = ["RunDirConfig", "log_config_to_mlflow", "plain"]
