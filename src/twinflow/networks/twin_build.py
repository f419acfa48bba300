"""Building a twin (target-time) transformer the way every diffusers adapter does.

One path for all families: a random model from a config, or a local checkpoint (stock or
twin, see :func:`~twinflow.networks.pretrained.load_twin_transformer`; under ZeRO-3 built
partitioned and streamed in, see :mod:`twinflow.networks.zero3`); then the dtype,
gradient checkpointing and, optionally, LoRA adapters with the target-time embedder trained
in full.
"""

from __future__ import annotations

import json
from typing import Any

import torch
from torch import nn

from twinflow.networks.lora import LoraSettings, add_lora
from twinflow.networks.pretrained import component_dir, load_twin_transformer
from twinflow.networks.zero3 import stream_safetensors, zero_init_active


def dtype_of(name: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"torch_dtype={name!r} is not a torch dtype (use float32 or bfloat16)")
    return dtype


def build_partitioned(twin_cls: Any, root: str, subfolder: str | None) -> nn.Module:
    """Under ``zero.Init``: the twin built from the folder's config (partitioned as it is
    built), its weights streamed in one module at a time; a stock checkpoint, which lacks the
    target-time embedder, gets ``emb2 = emb``."""
    folder = component_dir(root, subfolder or None)
    config = {k: v for k, v in json.loads((folder / "config.json").read_text()).items()
              if not k.startswith("_")}
    model = twin_cls.from_config(config)
    if stream_safetensors(model, folder, may_miss=twin_cls.TWIN_KEYS):
        model.reset_emb2()
    return model


def build_twin_transformer(
    twin_cls: Any,
    stock_cls: Any,
    pretrained: str | None,
    subfolder: str | None,
    config: dict[str, Any] | None,
    default_config: dict[str, Any],
    torch_dtype: str,
    gradient_checkpointing: bool,
    lora: LoraSettings | None,
) -> nn.Module:
    """The transformer an adapter wraps (``twin_cls``), ready to train."""
    dtype = dtype_of(torch_dtype)
    if zero_init_active():
        # ZeRO-3 partitions modules as they are built, and DeepSpeed's config sets the dtype.
        model = twin_cls(**(config or default_config)) if pretrained is None else (
            build_partitioned(twin_cls, pretrained, subfolder))
    elif pretrained is None:
        model = twin_cls(**(config or default_config))
        if dtype != torch.float32:
            model = model.to(dtype)
    else:
        model = load_twin_transformer(twin_cls, stock_cls, pretrained, subfolder or None, dtype)
    if gradient_checkpointing:
        model.enable_gradient_checkpointing()
    if lora is not None:
        add_lora(model, lora)  # peft keeps the adapter weights in fp32 under a bf16 base
    return model
