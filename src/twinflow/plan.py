"""``twinflow plan --config <experiment> --gpus 8 --nodes 1``: memory per GPU before a run.

Counts the experiment's network on the meta device (its checkpoint's ``config.json``, or with
``--stock-config`` the diffusers class defaults, which are Qwen-Image-20B and SANA-1.6B), then
prints per-GPU model-state memory from DeepSpeed's estimators (full training) or from bytes per
parameter (LoRA: a frozen bf16 base), activations at the configured resolution and micro-batch
(computed, see ``activation_bytes``), and the smallest setting that fits ``--gpu-memory``.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from twinflow.console import OneLineParser

GB = 1e9
#: VAE downsampling of the real checkpoints (a tiny stand-in's may differ)
STOCK_DOWNSAMPLE = {"qwen_image": 8, "sana": 32}


@dataclass
class NetworkSize:
    total: int
    trainable: int
    largest_layer: int
    hidden: int
    layers: int


def count(network: torch.nn.Module) -> NetworkSize:
    params = list(network.parameters())
    largest = max((sum(p.numel() for p in m.parameters(recurse=False))
                   for m in network.modules()), default=0)
    cfg = getattr(getattr(network, "transformer", None), "config", None)
    hidden = int(cfg.num_attention_heads * cfg.attention_head_dim) if cfg else 0
    return NetworkSize(sum(p.numel() for p in params),
                       sum(p.numel() for p in params if p.requires_grad), largest, hidden,
                       int(getattr(cfg, "num_layers", 0) or 0))


def meta_network(network_cfg: Any, stock_config: bool) -> torch.nn.Module:
    """The experiment's network built on the meta device (no weights read or allocated)."""
    module, _, name = network_cfg.class_path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    init = network_cfg.init_args
    kwargs = dict(init.as_dict() if hasattr(init, "as_dict") else (init or {}))
    pretrained = kwargs.pop("pretrained", None)
    if "config" in kwargs or pretrained is not None:
        folder = Path(str(pretrained)) / (kwargs.get("subfolder") or "")
        if stock_config:
            kwargs["config"] = {}  # the diffusers class defaults
        elif pretrained is not None and (folder / "config.json").is_file():
            cfg = json.loads((folder / "config.json").read_text())
            kwargs["config"] = {k: v for k, v in cfg.items() if not k.startswith("_")}
        kwargs.pop("torch_dtype", None)
    if kwargs.get("lora") is not None:
        from twinflow.networks.lora import LoraSettings

        kwargs["lora"] = LoraSettings(**{k: tuple(v) if isinstance(v, list) else v
                                         for k, v in dict(kwargs["lora"]).items()})
    with torch.device("meta"):
        if kwargs.get("config") == {}:
            kwargs["config"] = None
            return _stock_default(cls, kwargs)
        return cls(**kwargs)


def _stock_default(cls: Any, kwargs: dict) -> torch.nn.Module:
    import inspect

    twin = {"QwenImageNetwork": "twinflow.networks.qwen_image.QwenImageTwinTransformer",
            "SanaNetwork": "twinflow.networks.sana.SanaTwinTransformer"}[cls.__name__]
    module, _, name = twin.rpartition(".")
    twin_cls = getattr(importlib.import_module(module), name)
    sig = inspect.signature(twin_cls.__init__)
    defaults = {k: v.default for k, v in sig.parameters.items()
                if k != "self" and v.default is not inspect.Parameter.empty}
    kwargs["config"] = defaults
    return cls(**kwargs)


def activation_bytes(size: NetworkSize, tokens: int, micro_batch: int, grad_rows: float) -> float:
    """bf16 activations of one step with activation checkpointing, per GPU.

    Each layer keeps its input, ``tokens * hidden * 2`` bytes per row; the layer being
    recomputed holds about ``34 * tokens * hidden`` bytes per row (Korthikanti et al. 2022,
    with fused attention).  ``grad_rows`` is the rows backpropagated per batch row (TwinFlow:
    1 plus the e2e share, whose one-step output L_rectify backpropagates again).
    """
    per_row = size.layers * tokens * size.hidden * 2 + 34 * tokens * size.hidden
    return per_row * micro_batch * grad_rows


def model_states(size: NetworkSize, gpus: int, nodes: int) -> list[tuple[str, float, float]]:
    """``(setting, GPU bytes, CPU bytes)`` per GPU for the strategies worth considering."""
    n = gpus * nodes
    if size.trainable < size.total:  # LoRA: frozen bf16 base, 18 B per trainable parameter
        frozen, train = size.total - size.trainable, size.trainable
        return [("DDP (base replicated)", 2 * frozen + 18 * train, 0.0),
                ("ZeRO-3", (2 * frozen + 18 * train) / n + 4 * size.largest_layer, 0.0)]
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs as z3
    from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs as z2

    rows = [("ZeRO-2", *reversed(z2(size.total, gpus, nodes, cpu_offload=False)))]
    for name, opt, par in [("ZeRO-3", False, False), ("ZeRO-3 + optimizer offload", True, False),
                           ("ZeRO-3 + optimizer and parameter offload", True, True)]:
        cpu, gpu, _ = z3(size.total, size.largest_layer, gpus, nodes, cpu_offload=opt,
                         cpu_offload_params=par)
        rows.append((name, gpu, cpu))
    return rows


def main(argv: list[str]) -> None:
    p = OneLineParser(prog="twinflow plan", description=__doc__)
    p.add_argument("--config", action="append", required=True, help="experiment YAML")
    p.add_argument("--gpus", type=int, default=8, help="GPUs per node (default 8)")
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--gpu-memory", type=float, default=80.0, help="GB per GPU (default 80)")
    p.add_argument("--stock-config", action="store_true",
                   help="size the diffusers class defaults (Qwen-Image-20B, SANA-1.6B)")
    args, overrides = p.parse_known_args(argv)
    if args.gpus < 1 or args.nodes < 1:
        p.error("--gpus and --nodes must be >= 1")
    if not args.gpu_memory > 0:
        p.error(f"--gpu-memory {args.gpu_memory} must be a positive number of GB per GPU")
    from twinflow.lightning_cli import READ_ONLY_TRAINER, TwinFlowCLI

    cli_args = [a for c in args.config for a in ("--config", c)] + overrides
    # Reads the trainer's settings (accumulation) and runs nothing: planned from any machine.
    cli = TwinFlowCLI(args=[*cli_args, *READ_ONLY_TRAINER], run=False)
    cfg, model, data = cli.config, cli.model, cli.datamodule
    size = count(meta_network(cfg.model.network, args.stock_config))
    n = args.gpus * args.nodes
    accumulate = cli.trainer.accumulate_grad_batches
    micro = max(1, int(getattr(data, "batch_size", 1)) // n // accumulate)
    f = int(getattr(model.codec, "downsample", 1))
    if args.stock_config:
        f = STOCK_DOWNSAMPLE.get(getattr(model.codec, "family", ""), f)
    f *= 2 if "Qwen" in cfg.model.network.class_path else 1  # 2x2 latent patches
    buckets = getattr(data, "buckets", None) or [(model.codec.height, model.codec.width)]
    image_tokens = max(h * w for h, w in buckets) // (f * f)
    text_tokens = int(getattr(model.conditioner, "max_length", 0) or 0)
    grad_rows = 1.0 + float(getattr(model.objective.partition, "e2e", 0.0))
    act = activation_bytes(size, image_tokens + text_tokens, micro, grad_rows) if size.layers \
        else 0.0
    print(f"{args.config[-1]}: {size.total / 1e9:.2f} B parameters "
          f"({size.trainable / 1e9:.3f} B trainable), largest layer "
          f"{size.largest_layer / 1e6:.1f} M; {n} GPUs ({args.gpus} x {args.nodes} nodes), "
          f"micro-batch {micro} per GPU, {image_tokens} image + {text_tokens} text tokens")
    print(f"activations per GPU (computed, checkpointing on): {act / GB:.1f} GB")
    fits = None
    for name, gpu, cpu in model_states(size, args.gpus, args.nodes):
        total = gpu + act
        ok = total <= 0.9 * args.gpu_memory * GB  # 10% for the allocator and buffers
        fits = fits or (name if ok else None)
        print(f"  {name:<42} model states {gpu / GB:7.1f} GB GPU, {cpu / GB:7.1f} GB CPU "
              f"per node; with activations {total / GB:7.1f} GB {'fits' if ok else 'too big'}")
    ema = 4 * size.trainable  # fp32 shadow of the trained weights
    print(f"EMA (model.ema_decay): full copy {ema / GB:.1f} GB per GPU unsharded (DDP, ZeRO-2); "
          f"shard-local under ZeRO-3 would be {ema / n / GB:.2f} GB per GPU (not built: "
          "ema_decay must be null under ZeRO-3/FSDP2, costing 0, as the paper trains the 20B "
          "model; the online network under no-grad is then the target)")
    print(f"first setting that fits {args.gpu_memory:g} GB GPUs (least offloading): "
          f"{fits or 'none: add GPUs or raise --trainer.accumulate_grad_batches'}")
