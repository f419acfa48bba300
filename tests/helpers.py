"""Small configs and runners shared by the Lightning-level tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from twinflow.lightning_cli import TwinFlowCLI

ROOT = Path(__file__).resolve().parents[1]


def toy_config(
    root: Path,
    steps: int = 6,
    ckpt_every: int = 3,
    ema: float | None = 0.9,
    hidden: int = 32,
    lr: float = 0.01,
) -> Path:
    """A tiny toy run: ToyMLP on the Gaussian ring, no logger, checkpoints every few steps."""
    cfg = {
        "seed_everything": 0,
        "trainer": {
            "default_root_dir": str(root),
            "accelerator": "cpu",
            "devices": 1,
            "max_steps": steps,
            "logger": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "limit_val_batches": 0,
            "callbacks": [
                {"class_path": "twinflow.callbacks.threads.TorchThreads"},
                {
                    "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                    "init_args": {
                        "filename": "{step}",
                        "every_n_train_steps": ckpt_every,
                        "save_top_k": -1,
                    },
                },
            ],
        },
        "model": {
            "network": {
                "class_path": "twinflow.networks.ToyMLP",
                "init_args": {"hidden": hidden, "depth": 2},
            },
            "objective": str(ROOT / "configs/objective/twinflow_reference.yaml"),
            "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": lr}},
            "ema_decay": ema,
            "codec": {"class_path": "twinflow.codec.PointCodec", "init_args": {"dim": 2}},
            "conditioner": None,
        },
        "data": {
            "class_path": "twinflow.data.toy_datamodule.GaussianMixtureDataModule",
            "init_args": {"size": 8192, "batch_size": 256},
        },
    }
    path = root / "config.in.yaml"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg))
    return path


def load_experiment(name: str) -> dict:
    """``experiments/<name>.yaml`` with the config files it references (``../configs/...``)
    inlined, so tests can edit nested values."""
    base = ROOT / "experiments"
    cfg = yaml.safe_load((base / f"{name}.yaml").read_text())

    def inline(value):
        if isinstance(value, str) and value.endswith(".yaml"):
            return yaml.safe_load((base / value).read_text())
        return value

    cfg["data"] = inline(cfg["data"])
    for key in ("network", "objective", "codec", "conditioner"):
        cfg["model"][key] = inline(cfg["model"].get(key))
    return cfg


def run_cli(*args: str) -> TwinFlowCLI:
    return TwinFlowCLI(args=list(args))
