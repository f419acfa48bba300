"""SANA (diffusers ``SanaTransformer2DModel``) as a TwinFlow network ``F(x_t, t, r, cond)``.

The stock SANA transformer predicts the flow-matching velocity ``noise - data`` (the Sana
pipeline feeds it to ``FlowMatchEulerDiscreteScheduler.step``, which integrates ``dx/dsigma``
from ``sigma = 1`` noise to ``sigma = 0`` data), i.e. exactly our ``velocity = z - x`` at
``r = t``.  The pipeline passes ``timestep = 1000 * sigma * config.timestep_scale``; we scale
our ``t`` in ``[-1, 1]`` the same way, keeping the sign (negative times = twin trajectory).

The target time enters through a second copy of the timestep MLP (docs/METHOD.md §4)::

    temb = emb(t) + (t - r) * emb2(r),    emb2 := copy of emb at initialisation,

where ``t - r`` is in our units (``[-2, 2]``) and ``emb`` is the SANA
``time_proj -> timestep_embedder`` pair.  ``temb`` then goes through the stock
``silu -> linear`` adaLN-single head, so with ``r = t`` the model is bit-for-bit the stock one.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from diffusers import SanaTransformer2DModel
from diffusers.models.embeddings import TimestepEmbedding
from diffusers.models.normalization import AdaLayerNormSingle
from torch import Tensor, nn

from twinflow.networks.contract import Conditioning
from twinflow.networks.lora import LoraSettings
from twinflow.networks.twin_build import build_twin_transformer
from twinflow.networks.zero3 import copy_weights

#: Seconds-per-unit of the stock pipeline: ``timestep = TIME_UNIT * sigma * timestep_scale``.
TIME_UNIT = 1000.0

#: A tiny random SANA for tests and smoke experiments: 8x8 latents with 4 channels,
#: 32-dim captions, 2 layers of width 16.
TINY_SANA_CONFIG: dict[str, Any] = {
    "in_channels": 4,
    "out_channels": 4,
    "num_attention_heads": 2,
    "attention_head_dim": 8,
    "num_layers": 2,
    "num_cross_attention_heads": 2,
    "cross_attention_head_dim": 8,
    "cross_attention_dim": 16,
    "caption_channels": 32,
    "mlp_ratio": 2.5,
    "sample_size": 8,
    "patch_size": 1,
}


class TwinAdaLayerNormSingle(AdaLayerNormSingle):
    """adaLN-single with a target-time input.

    ``timestep`` is ``(B,)`` (then ``r = t``) or ``(B, 2) = [t, r]``, both in the units the
    stock model receives (``TIME_UNIT * timestep_scale * t``).  Returns, like the parent,
    ``(linear(silu(temb)) (B, 6D), temb (B, D))`` with
    ``temb = emb(t) + (t - r) / time_unit * emb2(r)``.
    """

    def __init__(
        self,
        embedding_dim: int,
        use_additional_conditions: bool = False,
        time_unit: float = TIME_UNIT,
    ) -> None:
        super().__init__(embedding_dim, use_additional_conditions)
        self.time_unit = float(time_unit)
        # Built, not deep-copied: under ZeRO-3 a new module is partitioned as it is built.
        self.emb2 = TimestepEmbedding(in_channels=256, time_embed_dim=embedding_dim)
        self.reset_emb2()

    def reset_emb2(self) -> None:
        """Make ``emb2`` an exact copy of ``emb``'s timestep MLP (after loading weights)."""
        copy_weights(self.emb.timestep_embedder, self.emb2)

    def forward(
        self,
        timestep: Tensor,
        added_cond_kwargs: dict[str, Tensor] | None = None,
        batch_size: int | None = None,
        hidden_dtype: torch.dtype | None = None,
    ) -> tuple[Tensor, Tensor]:
        if timestep.ndim == 2:
            t, r = timestep[:, 0], timestep[:, 1]
        else:
            t, r = timestep, None
        added_cond_kwargs = added_cond_kwargs or {"resolution": None, "aspect_ratio": None}
        temb = self.emb(t, **added_cond_kwargs, batch_size=batch_size, hidden_dtype=hidden_dtype)
        if r is not None:
            delta = ((t - r).float() / self.time_unit).to(temb.dtype)[:, None]
            temb = temb + delta * self.emb2(self.emb.time_proj(r).to(dtype=hidden_dtype))
        return self.linear(self.silu(temb)), temb


class SanaTwinTransformer(SanaTransformer2DModel):
    """``SanaTransformer2DModel`` whose ``time_embed`` is a :class:`TwinAdaLayerNormSingle`.

    ``forward`` keeps the stock signature and return contract; ``timestep`` may be ``(B,)``
    (stock behaviour) or ``(B, 2) = [t, r]`` in stock units.  SANA-Sprint configs
    (``guidance_embeds=True``) are refused.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.guidance_embeds:
            raise ValueError(
                "SanaTwinTransformer does not support guidance_embeds=True (SANA-Sprint) "
                "configs: use a SANA checkpoint without guidance embeddings"
            )
        inner_dim = self.config.num_attention_heads * self.config.attention_head_dim
        old = self.time_embed
        self.time_embed = TwinAdaLayerNormSingle(
            inner_dim, time_unit=TIME_UNIT * self.config.timestep_scale
        )
        copy_weights(old.emb, self.time_embed.emb)  # the stock init, so seeds compare
        copy_weights(old.linear, self.time_embed.linear)
        self.time_embed.reset_emb2()

    #: parameter names a stock checkpoint lacks (the target-time embedder)
    TWIN_KEYS: tuple[str, ...] = ("time_embed.emb2.",)

    # diffusers reads config keys from the __init__ signature: expose the stock one.
    __init__.__signature__ = inspect.signature(SanaTransformer2DModel.__init__)  # type: ignore

    def reset_emb2(self) -> None:
        """Re-initialise ``emb2`` as a copy of ``emb`` (for weights that lack it)."""
        self.time_embed.reset_emb2()

    @classmethod
    def from_stock(cls, stock: SanaTransformer2DModel) -> SanaTwinTransformer:
        """A twin model with ``stock``'s weights, dtype and device and ``emb2 = emb``."""
        config = {k: v for k, v in stock.config.items() if not k.startswith("_")}
        twin = cls.from_config(config)
        missing, unexpected = twin.load_state_dict(stock.state_dict(), strict=False)
        if unexpected or any(not k.startswith("time_embed.emb2.") for k in missing):
            raise RuntimeError(f"stock SANA weights do not fit: {missing=} {unexpected=}")
        twin.reset_emb2()
        return twin.to(device=stock.device, dtype=stock.dtype)


class SanaNetwork(nn.Module):
    """SANA transformer with the TwinFlow contract ``F(x_t, t, r, cond) -> velocity``.

    Args:
        pretrained: local checkpoint root (stock SANA or a saved :class:`SanaTwinTransformer`);
            ``None`` builds a random model from ``config``.
        subfolder: component folder under ``pretrained``.
        config: ``SanaTransformer2DModel`` kwargs for a random model (default
            :data:`TINY_SANA_CONFIG`).
        torch_dtype: ``"float32"``, ``"bfloat16"``, ...
        gradient_checkpointing: enable diffusers gradient checkpointing in the blocks.
        lora: LoRA adapters (the base frozen, the target-time embedder trained in full), or
            ``None`` to train every weight.

    Raises:
        PretrainedPathError: the pretrained folder or its subfolder is missing.
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
            SanaTwinTransformer, SanaTransformer2DModel,
            pretrained, subfolder, config, TINY_SANA_CONFIG,
            torch_dtype, gradient_checkpointing, lora,
        )
        self.transformer: SanaTwinTransformer = model

    @property
    def time_scale(self) -> float:
        """Factor from our ``t`` to the stock timestep: ``TIME_UNIT * timestep_scale``."""
        return TIME_UNIT * float(self.transformer.config.timestep_scale)

    def forward(
        self, x_t: Tensor, t: Tensor, r: Tensor, cond: Conditioning | None = None
    ) -> Tensor:
        """Average velocity from ``t`` to ``r``.

        Args:
            x_t: ``(B, C, h, w)`` latents at time ``t``.
            t, r: ``(B,)`` times in ``[-1, 1]`` (negative = twin trajectory).
            cond: ``embeds (B, L, caption_channels)``, ``mask (B, L)`` (1 = keep) or ``None``.

        Returns:
            ``(B, C, h, w)`` velocity, ``noise - data`` at ``r = t``.
        """
        if cond is None or cond.embeds.dim() != 3:
            raise ValueError("SanaNetwork needs token conditioning: embeds (B, L, D), mask (B, L)")
        dtype = self.transformer.dtype
        batch = x_t.shape[0]
        times = torch.stack([t.expand(batch), r.expand(batch)], dim=-1).float()
        out = self.transformer(
            hidden_states=x_t.to(dtype),
            encoder_hidden_states=cond.embeds.to(dtype),
            timestep=times * self.time_scale,
            encoder_attention_mask=cond.mask,
            return_dict=False,
        )[0]
        return out.to(x_t.dtype)
