"""Exports of a diffusers-backbone model in diffusers format.

``export_diffusers(module, out)`` writes::

    out/transformer/            the sampling network (EMA weights when kept), LoRA merged in:
                                ``SanaTwinTransformer.from_pretrained(out, subfolder=...)``
    out/model.yaml              the module config, its network reading ``out/transformer``
    out/lora/pytorch_lora_weights.safetensors
                                (LoRA runs) the adapters, for the stock
                                ``SanaPipeline.load_lora_weights`` / ``QwenImagePipeline...``
    out/lora/target_time_embedder.safetensors
                                (LoRA runs) the target-time embedder trained in full; the
                                stock pipelines have no use for it (they sample with r = t)

The VAE and text encoder are not copied: ``model.yaml`` keeps pointing at the base
checkpoint's folders.  Like :func:`twinflow.export.export_module`, the folder is staged and
renamed into place, so an existing export is only replaced by a complete one.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from safetensors.torch import save_file
from torch import nn

from twinflow.export import staged_folder
from twinflow.networks.lora import full_trained_state_dict, save_lora_for_pipeline

# the adapter's folder name inside an export; model.yaml says `pretrained: EXPORT_SELF`
EXPORT_SELF = "."


def _pipeline_class(transformer: nn.Module) -> Any:
    from diffusers import QwenImagePipeline, SanaPipeline

    from twinflow.networks.qwen_image import QwenImageTwinTransformer
    from twinflow.networks.sana import SanaTwinTransformer

    if isinstance(transformer, SanaTwinTransformer):
        return SanaPipeline
    if isinstance(transformer, QwenImageTwinTransformer):
        return QwenImagePipeline
    raise TypeError(f"no diffusers pipeline for {type(transformer).__name__}")


def merged_copy(transformer: nn.Module) -> nn.Module:
    """A copy with LoRA folded into the base weights and the adapter layers removed."""
    out = copy.deepcopy(transformer)
    if getattr(out, "peft_config", None):
        out.fuse_lora()
        out.unload_lora()
    return out.requires_grad_(False)


def exported_config(config: dict[str, Any]) -> dict[str, Any]:
    """The module config of an export: network from the export folder, no LoRA, no EMA."""
    config = copy.deepcopy(config)
    init = config["network"].setdefault("init_args", {})
    init.update(pretrained=EXPORT_SELF, subfolder="transformer", config=None, lora=None)
    config["ema_decay"], config["init_from"] = None, None
    return config


def export_diffusers(module: Any, out_dir: str | Path) -> Path:
    """Write the diffusers-format export of ``module`` (its network has ``.transformer``)."""
    if module.model_config is None:
        raise ValueError("the module has no model_config: build it with the twinflow CLI")
    net = module.sampling_network
    transformer = getattr(net, "transformer", None)
    if transformer is None:
        raise TypeError(f"{type(net).__name__} is not a diffusers adapter (no .transformer)")
    config = exported_config(yaml.safe_load(module.model_config))
    with staged_folder(out_dir) as staging:
        merged_copy(transformer).save_pretrained(staging / "transformer")
        (staging / "model.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        lora = getattr(module.network, "lora", None)
        if lora is not None:
            save_lora_for_pipeline(transformer, _pipeline_class(transformer), staging / "lora")
            save_file(full_trained_state_dict(transformer, lora),
                      staging / "lora" / "target_time_embedder.safetensors")
    return Path(out_dir)
