"""A few ZeRO-3 TwinFlow steps of a full-size backbone; step time and peak memory vs the plan.

Runs the module's own training step (``TwinFlowModule`` + ``TwinFlowDeepSpeedStrategy``,
stage 3, bf16, activation checkpointing) on random latents and text embeddings, with the
network built from the diffusers class defaults (random weights: no download), so it runs on
a bare GPU machine:

    python benchmarks/zero3_scale.py --backbone sana --steps 4          # SANA-1.6B, 1024^2
    python benchmarks/zero3_scale.py --backbone qwen --layers 12        # Qwen-Image cut to 12

and prints one JSON line per backbone: median step time after ``--warmup`` steps, peak CUDA
memory, and what ``twinflow plan``'s formulas predict for the same network, batch and tokens
(model states from DeepSpeed's estimator plus computed activations).  ``--tiny --cpu`` runs
the same path on DeepSpeed's CPU accelerator at toy size: the smoke test that keeps the
script from rotting.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import time
from pathlib import Path

import lightning as L
import torch

GB = 1e9
#: latent channels, latent downsampling, text width and tokens of the real pipelines
BACKBONES = {
    "sana": dict(cls="twinflow.networks.sana.SanaNetwork",
                 twin="twinflow.networks.sana.SanaTwinTransformer",
                 channels=32, downsample=32, text_dim=2304, text_tokens=300),
    "qwen": dict(cls="twinflow.networks.qwen_image.QwenImageNetwork",
                 twin="twinflow.networks.qwen_image.QwenImageTwinTransformer",
                 channels=16, downsample=8, text_dim=3584, text_tokens=256),
}
OBJECTIVE = Path(__file__).resolve().parents[1] / "configs/objective/twinflow_backbone.yaml"


def stock_config(twin_path: str, layers: int | None, tiny: bool) -> dict:
    """The diffusers class defaults (Qwen-Image-20B, SANA-1.6B), optionally fewer layers."""
    import importlib

    if tiny:
        from twinflow.networks.qwen_image import TINY_QWEN_IMAGE_CONFIG
        from twinflow.networks.sana import TINY_SANA_CONFIG

        base = TINY_SANA_CONFIG if "sana" in twin_path else TINY_QWEN_IMAGE_CONFIG
        config = dict(base)
    else:
        module, _, name = twin_path.rpartition(".")
        sig = inspect.signature(getattr(importlib.import_module(module), name).__init__)
        config = {k: v.default for k, v in sig.parameters.items()
                  if k != "self" and v.default is not inspect.Parameter.empty}
    if layers:
        config["num_layers"] = layers
    return config


def make_module(spec: dict, config: dict, dtype: str):
    import yaml

    from twinflow.export import build_module

    return build_module({
        "network": {"class_path": spec["cls"],
                    "init_args": {"config": config, "torch_dtype": dtype,
                                  "gradient_checkpointing": True}},
        "objective": yaml.safe_load(OBJECTIVE.read_text()),
        "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": 1e-5}},
        "ema_decay": None,
    })


def batches(spec: dict, config: dict, args: argparse.Namespace, n: int) -> tuple[list, int, int]:
    """``n`` random batches; also the image and text tokens per row."""
    from twinflow.data.batch import Batch
    from twinflow.networks.contract import Conditioning

    channels = int(config.get("out_channels") or spec["channels"])
    side = args.resolution // spec["downsample"]
    text_dim = int(config.get("caption_channels") or config.get("joint_attention_dim"))
    tokens = spec["text_tokens"] if not args.tiny else 8
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        mask = torch.ones(args.batch, tokens, dtype=torch.long)
        out.append(Batch(
            torch.randn(args.batch, channels, side, side, generator=g),
            Conditioning(torch.randn(args.batch, tokens, text_dim, generator=g), mask),
            Conditioning(torch.zeros(1, tokens, text_dim), torch.ones(1, tokens, dtype=torch.long)),
        ))
    return out, side * side // (4 if "qwen" in spec["cls"] else 1), tokens


class StepTimer(L.Callback):
    """Wall time of each optimizer step (CUDA synchronised)."""

    def __init__(self, cuda: bool) -> None:
        self.cuda, self.times, self.start = cuda, [], 0.0

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._sync()
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._sync()
        self.times.append(time.perf_counter() - self.start)


def predicted(module, image_tokens: int, text_tokens: int, batch: int) -> dict:
    """``twinflow plan``'s numbers for this network (built on the meta device), 1 GPU."""
    from twinflow.plan import activation_bytes, count, model_states

    with torch.device("meta"):
        module.configure_model()
    size = count(module.network)
    grad_rows = 1.0 + float(module.objective.partition.e2e)
    act = activation_bytes(size, image_tokens + text_tokens, batch, grad_rows)
    states = dict((name, gpu) for name, gpu, _ in model_states(size, 1, 1))
    return {"parameters": size.total,
            "plan_model_states_gb": float(f"{states['ZeRO-3'] / GB:.4g}"),
            "plan_activations_gb": float(f"{act / GB:.4g}"),
            "plan_total_gb": float(f"{(states['ZeRO-3'] + act) / GB:.4g}")}


def run(backbone: str, args: argparse.Namespace) -> dict:
    from torch.utils.data import DataLoader

    from twinflow.strategies import CPUDeepSpeedStrategy, TwinFlowDeepSpeedStrategy

    spec = BACKBONES[backbone]
    layers = args.layers if backbone == "qwen" else None
    config = stock_config(spec["twin"], layers, args.tiny)
    dtype = "float32" if args.cpu else "bfloat16"
    module = make_module(spec, config, dtype)
    data, image_tokens, text_tokens = batches(spec, config, args, args.warmup + args.steps)
    strategy = (CPUDeepSpeedStrategy if args.cpu else TwinFlowDeepSpeedStrategy)(stage=3)
    timer = StepTimer(cuda=not args.cpu)
    trainer = L.Trainer(
        accelerator="cpu" if args.cpu else "gpu", devices=1, strategy=strategy,
        precision="32-true" if args.cpu else "bf16-mixed", max_steps=len(data),
        logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[timer], default_root_dir=args.out,
    )
    if not args.cpu:
        torch.cuda.reset_peak_memory_stats()
    trainer.fit(module, DataLoader(data, batch_size=None, collate_fn=lambda b: b))
    timed = timer.times[args.warmup:]
    result = {"backbone": backbone, "layers": int(config.get("num_layers", 0)),
              "resolution": args.resolution, "batch": args.batch,
              "image_tokens": image_tokens, "text_tokens": text_tokens,
              "steps_timed": len(timed), "skipped_steps": module.skipped_steps,
              "step_s_median": round(statistics.median(timed), 4),
              "step_s_min": round(min(timed), 4), "step_s_max": round(max(timed), 4)}
    if not args.cpu:
        result["peak_allocated_gb"] = round(torch.cuda.max_memory_allocated() / GB, 2)
        result["peak_reserved_gb"] = round(torch.cuda.max_memory_reserved() / GB, 2)
        result["device"] = torch.cuda.get_device_name()
    result.update(predicted(make_module(spec, config, dtype), image_tokens, text_tokens,
                            args.batch))
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbone", choices=[*BACKBONES, "both"], default="both")
    p.add_argument("--layers", type=int, default=12, help="Qwen-Image layers kept (of 60)")
    p.add_argument("--resolution", type=int, default=1024)
    p.add_argument("--batch", type=int, default=1, help="rows per step")
    p.add_argument("--steps", type=int, default=4, help="timed steps")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--tiny", action="store_true", help="the tiny test configs (smoke test)")
    p.add_argument("--cpu", action="store_true", help="DeepSpeed's CPU accelerator over gloo")
    p.add_argument("--out", default="runs/zero3_scale", help="scratch folder")
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.batch < 1 or args.layers < 1:
        p.error("--steps, --batch and --layers must be >= 1, --warmup >= 0")
    if not args.cpu and not torch.cuda.is_available():
        p.error("no CUDA device: run on a GPU machine, or pass --tiny --cpu for the smoke run")
    if args.cpu:
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    for backbone in BACKBONES if args.backbone == "both" else [args.backbone]:
        print(json.dumps(run(backbone, args)), flush=True)


if __name__ == "__main__":
    main()
