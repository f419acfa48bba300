"""Qwen-Image (diffusers ``QwenImageTransformer2DModel``) as a TwinFlow network.

The stock transformer predicts ``noise - data`` (the Qwen-Image pipeline feeds it to
``FlowMatchEulerDiscreteScheduler.step``), our ``velocity = z - x`` at ``r = t``.  The
pipeline passes ``timestep = sigma`` in ``[0, 1]`` (its sinusoidal projection multiplies by
1000 itself), so our ``t`` goes in unchanged, sign included (negative = twin trajectory).

Latents ``(B, 16, h, w)`` are packed into ``2 x 2`` patches, ``(B, h/2 * w/2, 64)``, with
``img_shapes = [(1, h/2, w/2)]`` per sample for the RoPE, exactly as the pipeline packs them.

The target time enters through a copy of the timestep MLP (docs/METHOD.md §4)::

    temb = emb(t) + (t - r) * emb2(r),    emb2 := copy of emb at initialisation,

so with ``r = t`` the model is the stock one.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from diffusers import QwenImageTransformer2DModel
from diffusers.models.embeddings import TimestepEmbedding
from diffusers.models.transformers.transformer_qwenimage import QwenTimestepProjEmbeddings
from torch import Tensor, nn

from twinflow.networks.contract import Conditioning
from twinflow.networks.lora import LoraSettings
from twinflow.networks.twin_build import build_twin_transformer
from twinflow.networks.zero3 import copy_weights

#: A tiny random Qwen-Image for tests and smoke runs: 16 latent channels (as the real VAE),
#: 2 layers of width 32, 32-dim text tokens.
TINY_QWEN_IMAGE_CONFIG: dict[str, Any] = {
    "patch_size": 2,
    "in_channels": 64,
    "out_channels": 16,
    "num_layers": 2,
    "attention_head_dim": 16,
    "num_attention_heads": 2,
    "joint_attention_dim": 32,
    "axes_dims_rope": (4, 6, 6),
}


class TwinQwenTimestepEmbeddings(QwenTimestepProjEmbeddings):
    """Timestep embedding with a target time.

    ``timestep`` is ``(B,)`` (then ``r = t``) or ``(B, 2) = [t, r]``; returns ``(B, D)``
    ``emb(t) + (t - r) * emb2(r)`` (plus the stock additional-t embedding when configured).
    """

    def __init__(self, embedding_dim: int, use_additional_t_cond: bool = False) -> None:
        super().__init__(embedding_dim, use_additional_t_cond)
        # Built, not deep-copied: under ZeRO-3 a new module is partitioned as it is built.
        self.timestep_embedder_r = TimestepEmbedding(in_channels=256, time_embed_dim=embedding_dim)
        self.reset_emb2()

    def reset_emb2(self) -> None:
        """Make ``emb2`` an exact copy of ``emb`` (after loading weights that lack it)."""
        copy_weights(self.timestep_embedder, self.timestep_embedder_r)

    def forward(self, timestep: Tensor, hidden_states: Tensor, addition_t_cond=None) -> Tensor:
        if timestep.ndim == 1:
            return super().forward(timestep, hidden_states, addition_t_cond)
        t, r = timestep[:, 0], timestep[:, 1]
        temb = super().forward(t, hidden_states, addition_t_cond)
        emb_r = self.timestep_embedder_r(self.time_proj(r).to(dtype=hidden_states.dtype))
        return temb + (t - r).to(temb.dtype)[:, None] * emb_r


class QwenImageTwinTransformer(QwenImageTransformer2DModel):
    """``QwenImageTransformer2DModel`` with :class:`TwinQwenTimestepEmbeddings`.

    ``forward`` keeps the stock signature; ``timestep`` may be ``(B,)`` or ``(B, 2)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.guidance_embeds:
            raise ValueError("QwenImageTwinTransformer does not support guidance_embeds=True")
        old = self.time_text_embed
        self.time_text_embed = TwinQwenTimestepEmbeddings(
            self.inner_dim, use_additional_t_cond=self.config.use_additional_t_cond
        )
        copy_weights(old.timestep_embedder, self.time_text_embed.timestep_embedder)
        if self.config.use_additional_t_cond:
            copy_weights(old.addition_t_embedding, self.time_text_embed.addition_t_embedding)
        self.time_text_embed.reset_emb2()

    #: parameter names a stock checkpoint lacks (the target-time embedder)
    TWIN_KEYS: tuple[str, ...] = ("timestep_embedder_r.",)

    # diffusers reads config keys from the __init__ signature: expose the stock one.
    __init__.__signature__ = inspect.signature(QwenImageTransformer2DModel.__init__)  # type: ignore

    def reset_emb2(self) -> None:
        self.time_text_embed.reset_emb2()

    @classmethod
    def from_stock(cls, stock: QwenImageTransformer2DModel) -> QwenImageTwinTransformer:
        """A twin model with ``stock``'s weights, dtype and device and ``emb2 = emb``."""
        config = {k: v for k, v in stock.config.items() if not k.startswith("_")}
        twin = cls.from_config(config)
        missing, unexpected = twin.load_state_dict(stock.state_dict(), strict=False)
        if unexpected or any("timestep_embedder_r." not in k for k in missing):
            raise RuntimeError(f"stock Qwen-Image weights do not fit: {missing=} {unexpected=}")
        twin.reset_emb2()
        return twin.to(device=stock.device, dtype=stock.dtype)


def pack(latents: Tensor) -> Tensor:
    """``(B, C, h, w)`` -> ``(B, h/2 * w/2, 4C)`` 2x2 patches, the pipeline's layout."""
    b, c, h, w = latents.shape
    x = latents.view(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // 2) * (w // 2), c * 4)


def unpack(tokens: Tensor, h: int, w: int) -> Tensor:
    """Inverse of :func:`pack`: ``(B, h/2 * w/2, 4C)`` -> ``(B, C, h, w)``."""
    b, _, d = tokens.shape
    x = tokens.view(b, h // 2, w // 2, d // 4, 2, 2).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, d // 4, h, w)


class QwenImageNetwork(nn.Module):
    """Qwen-Image transformer with the contract ``F(x_t, t, r, cond) -> velocity``.

    Args:
        pretrained: local checkpoint root (stock Qwen-Image or a saved twin model); ``None``
            builds a random model from ``config`` (default :data:`TINY_QWEN_IMAGE_CONFIG`).
        subfolder: component folder under ``pretrained``.
        torch_dtype: ``"float32"``, ``"bfloat16"``, ...
        gradient_checkpointing: diffusers gradient checkpointing in the blocks.
        lora: LoRA adapters (the base frozen, the target-time embedder trained in full), or
            ``None`` to train every weight.
    """

    def __init__(
        self,
        pretrained: str | None = None,
        subfolder: str = "transformer",
        config: dict[str, Any] | None = None,
        torch_dtype: str = "float32",
        gradient_checkpointing: bool = False,
        lora: LoraSettings | None = None,
    ) -> None:
        super().__init__()
        self.lora = lora
        model = build_twin_transformer(
            QwenImageTwinTransformer, QwenImageTransformer2DModel,
            pretrained, subfolder, config, TINY_QWEN_IMAGE_CONFIG,
            torch_dtype, gradient_checkpointing, lora,
        )
        self.transformer: QwenImageTwinTransformer = model

    def forward(
        self, x_t: Tensor, t: Tensor, r: Tensor, cond: Conditioning | None = None
    ) -> Tensor:
        """``x_t (B, C, h, w)``, ``t, r (B,)``, ``cond (B, L, D) + mask`` -> ``(B, C, h, w)``."""
        if cond is None or cond.embeds.dim() != 3:
            raise ValueError("QwenImageNetwork needs token conditioning: embeds (B, L, D) + mask")
        b, _, h, w = x_t.shape
        if h % 2 or w % 2:
            raise ValueError(f"Qwen-Image latents need even height and width, got {h}x{w}")
        dtype = self.transformer.dtype
        mask = cond.mask if cond.mask is not None else cond.embeds.new_ones(cond.embeds.shape[:2])
        times = torch.stack([t.expand(b), r.expand(b)], dim=-1).float()
        out = self.transformer(
            hidden_states=pack(x_t).to(dtype),
            encoder_hidden_states=cond.embeds.to(dtype),
            encoder_hidden_states_mask=mask,
            timestep=times,
            img_shapes=[[(1, h // 2, w // 2)]] * b,
            return_dict=False,
        )[0]
        return unpack(out, h, w).to(x_t.dtype)
