"""LoRA on a diffusers transformer (peft), and its export for the stock diffusers pipelines.

``LoraSettings`` follows the paper's LoRA recipe: rank = alpha = 64 on the attention and MLP
projections; everything else is frozen except the parameters named in ``train_in_full``
(the new target-time embedder, which has no pretrained value to adapt).  The LoRA weights of
``W' = W + (alpha / rank) * B A`` are saved with the pipeline's own ``save_lora_weights``, so
``QwenImagePipeline.load_lora_weights`` / ``SanaPipeline.load_lora_weights`` read the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

# Attention (q, k, v, out; the text-stream ones of joint blocks) and MLP projections, by the
# leaf names diffusers uses in QwenImageTransformerBlock and SanaTransformerBlock (SANA's MLP
# is 1x1 convs around a depthwise conv, which is left out: peft cannot adapt grouped convs).
DEFAULT_TARGETS = (
    "to_q",
    "to_k",
    "to_v",
    "to_out.0",
    "add_q_proj",
    "add_k_proj",
    "add_v_proj",
    "to_add_out",
    "net.0.proj",
    "net.2",
    "conv_inverted",
    "conv_point",
)


@dataclass(frozen=True)
class LoraSettings:
    """``rank``/``alpha`` of every adapted projection; ``train_in_full``: name substrings."""

    rank: int = 64
    alpha: int = 64
    target_modules: tuple[str, ...] = DEFAULT_TARGETS
    train_in_full: tuple[str, ...] = field(default=("timestep_embedder_r", "emb_r"))
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.rank < 1 or self.alpha <= 0:
            raise ValueError(f"LoRA rank and alpha must be positive, got {self.rank}, {self.alpha}")


def present_targets(model: nn.Module, targets: tuple[str, ...]) -> list[str]:
    """The entries of ``targets`` that name at least one ``nn.Linear``/``nn.Conv2d`` leaf."""
    names = [n for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    return [t for t in targets if any(n == t or n.endswith("." + t) for n in names)]


def add_lora(transformer: nn.Module, settings: LoraSettings) -> nn.Module:
    """Freeze ``transformer``, add LoRA adapters, unfreeze ``train_in_full``; in place.

    Raises:
        ValueError: when none of ``target_modules`` exists in the model.
    """
    from peft import LoraConfig

    targets = present_targets(transformer, settings.target_modules)
    if not targets:
        raise ValueError(
            f"none of the LoRA target modules {list(settings.target_modules)} exists in "
            f"{type(transformer).__name__}; set model.network.init_args.lora.target_modules"
        )
    transformer.requires_grad_(False)
    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
        init_lora_weights=True,  # B = 0: the adapted model starts equal to the base model
    )
    transformer.add_adapter(config)
    for name, param in transformer.named_parameters():
        if any(key in name for key in settings.train_in_full):
            param.requires_grad_(True)
    return transformer


def lora_state_dict(transformer: nn.Module) -> dict[str, torch.Tensor]:
    """The adapter weights only, with peft's key names (``...lora_A.weight``)."""
    from peft.utils import get_peft_model_state_dict

    return {
        k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(transformer).items()
    }


def full_trained_state_dict(
    transformer: nn.Module, settings: LoraSettings
) -> dict[str, torch.Tensor]:
    """Parameters trained in full (the target-time embedder): needed beside the LoRA file."""
    return {
        name: p.detach().cpu().contiguous()
        for name, p in transformer.named_parameters()
        if any(key in name for key in settings.train_in_full)
    }


def save_lora_for_pipeline(transformer: nn.Module, pipeline_cls: type, out_dir: str | Path) -> Path:
    """Write ``pytorch_lora_weights.safetensors`` with ``pipeline_cls.save_lora_weights``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # The adapter config travels in the file's metadata: without it the loader assumes
    # alpha = rank and would rescale an alpha != rank adapter.
    config = transformer.peft_config["default"].to_dict()
    config = {k: (sorted(v) if isinstance(v, set) else v) for k, v in config.items()}
    pipeline_cls.save_lora_weights(
        out,
        transformer_lora_layers=lora_state_dict(transformer),
        transformer_lora_adapter_metadata=config,
    )
    return out / "pytorch_lora_weights.safetensors"
