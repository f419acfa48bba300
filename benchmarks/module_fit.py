"""Fine-tune the digits default through the module's own training step, for the benchmarks.

``fine_tune`` builds ``TwinFlowModule`` and ``DigitsDataModule`` from
``experiments/digits_twinflow.yaml`` with ``TwinFlowCLI`` (the same parser ``twinflow fit``
uses), replaces the objective and a few settings, drops loggers, checkpoints, validation and
callbacks (the benchmark scores after fit), and runs ``Trainer.fit``: every step is
``TwinFlowModule.training_step`` with Lightning's optimizer step, gradient clipping and the
module's EMA update.  No second training loop exists in the benchmarks.

``StepTimer`` records the wall time of each training step (batch start to batch end), which
``quality_vs_nfe`` uses to turn an equal wall-clock budget into a step count per method.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import lightning as L
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
EXPERIMENT = ROOT / "experiments" / "digits_twinflow.yaml"
OBJECTIVES = ROOT / "configs" / "objective"


def objective_config(base: str = "twinflow", **changes) -> dict:
    """``configs/objective/<base>.yaml`` as a dict, ``changes`` merged into its ``init_args``.

    A dict value is merged into the field's dict (``partition={"adv": 0.3}`` keeps the other
    shares); any other value replaces the field.
    """
    path = OBJECTIVES / f"{base}.yaml"
    if not path.is_file():
        raise SystemExit(f"error: objective {base!r} not found ({path}); use a name from "
                         f"{sorted(p.stem for p in OBJECTIVES.glob('*.yaml'))}")
    cfg = yaml.safe_load(path.read_text())
    args = cfg["init_args"]
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(args.get(key), dict):
            args[key] = args[key] | value
        else:
            args[key] = value
    return cfg


def twin_share_partition(share: float, mul_window: float = 0.05) -> dict:
    """The partition with twin share ``share`` (``e2e`` + ``adv``), halved between the two,
    and the rest halved between ``mul`` and ``any``."""
    if not 0 <= share < 1:
        raise ValueError(f"twin share must be in [0, 1), got {share}")
    return {"e2e": share / 2, "adv": share / 2, "mul": (1 - share) / 2,
            "any": (1 - share) / 2, "mul_window": mul_window}


class StepTimer(L.Callback):
    """Wall time per training step in seconds (``times``), batch start to batch end."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.times.append(time.perf_counter() - self._start)

    def median(self, skip: int = 2) -> float:
        """Median step time without the first ``skip`` (warm-up) steps."""
        kept = self.times[skip:] or self.times
        return statistics.median(kept)


def build_config(
    objective: dict | None,
    steps: int,
    run_dir: Path,
    init_from: Path | None,
    seed: int = 0,
    lr: float | None = None,
    batch_size: int | None = None,
    ema_decay: float | None | str = "keep",
    experiment: Path = EXPERIMENT,
) -> dict:
    """The experiment (default phase 2) as a dict, absolute paths, the benchmark's changes.

    ``objective=None`` keeps the experiment's own objective (e.g. phase 1's flow matching).
    """
    cfg = yaml.safe_load(experiment.read_text())
    base = experiment.parent

    def absolute(value):
        return str((base / value).resolve()) if isinstance(value, str) else value

    cfg["seed_everything"] = seed
    cfg["trainer"] |= {
        "default_root_dir": str(run_dir), "max_steps": steps, "logger": False,
        "callbacks": [], "enable_checkpointing": False, "enable_progress_bar": False,
        "enable_model_summary": False, "limit_val_batches": 0, "num_sanity_val_steps": 0,
    }
    model = cfg["model"]
    model["network"] = absolute(model["network"])
    model["objective"] = objective if objective is not None else absolute(model["objective"])
    model["init_from"] = str(init_from) if init_from else None
    model["seed"] = seed
    if lr is not None:
        model["optimizer"]["init_args"]["lr"] = lr
    if ema_decay != "keep":
        model["ema_decay"] = ema_decay
    data = yaml.safe_load((base / cfg["data"]).read_text()) if isinstance(cfg["data"], str) \
        else cfg["data"]
    data["init_args"]["seed"] = seed
    if batch_size is not None:
        data["init_args"]["batch_size"] = batch_size
    cfg["data"] = data
    return cfg


def fine_tune(
    objective: dict | None,
    steps: int,
    run_dir: Path,
    init_from: Path | None,
    seed: int = 0,
    timer: StepTimer | None = None,
    callbacks: list | None = None,
    **settings,
):
    """``steps`` optimizer steps of ``TwinFlowModule`` under a Lightning ``Trainer``.

    Returns the trained module (its EMA, when the config has one, is the sampling network).
    ``callbacks`` are added to the trainer's (e.g. a wall-clock stop).
    ``settings``: ``lr``, ``batch_size``, ``ema_decay``, ``experiment`` (see
    :func:`build_config`).
    """
    import torch

    from twinflow.lightning_cli import TwinFlowCLI

    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    run_dir.mkdir(parents=True, exist_ok=True)
    config = run_dir / "bench_config.yaml"
    config.write_text(yaml.safe_dump(build_config(objective, steps, run_dir, init_from, seed,
                                                  **settings)))
    threads = torch.get_num_threads()  # the CLI's seeding and setup keep the caller's threads
    cli = TwinFlowCLI(args=["--config", str(config)], run=False,
                      save_config_callback=None)
    cli.trainer.callbacks.extend([*([timer] if timer is not None else []), *(callbacks or [])])
    torch.set_num_threads(threads)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return cli.model
