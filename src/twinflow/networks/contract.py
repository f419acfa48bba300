"""The network contract every backbone adapter satisfies.

A TwinFlow network is one callable ``F(x_t, t, r, cond) -> velocity``:

* ``x_t``: ``(B, *shape)`` the state at time ``t`` (``t = 1`` noise, ``t = 0`` data);
* ``t``, ``r``: ``(B,)`` current and target times, in ``[-1, 1]``; negative times address the
  twin (fake) trajectory;
* ``cond``: a :class:`Conditioning` (or ``None`` for unconditional models);
* returns ``(B, *shape)``, the average velocity carrying ``x_t`` from ``t`` to ``r``:
  ``x_r = x_t - (t - r) * F``.  With ``r = t`` it is the instantaneous velocity.

The objective, the sampler and the Lightning module only ever use this contract, so a new
backbone (a diffusers transformer, a LoRA-wrapped model) plugs in without touching them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor


@dataclass
class Conditioning:
    """A batch of text conditions.

    Attributes:
        embeds: ``(B, D)`` pooled embeddings or ``(B, L, D)`` token embeddings.
        mask: ``(B, L)`` attention mask for token embeddings (1 = keep), or ``None``.
    """

    embeds: Tensor
    mask: Tensor | None = None

    def __post_init__(self) -> None:
        if self.mask is not None and self.mask.shape != self.embeds.shape[:2]:
            raise ValueError(
                f"Conditioning.mask has shape {tuple(self.mask.shape)} but embeds "
                f"{tuple(self.embeds.shape)}: the mask must be (B, L) for (B, L, D) embeddings."
            )

    def __len__(self) -> int:
        return self.embeds.shape[0]

    def index(self, idx: Tensor | slice) -> Conditioning:
        """Rows ``idx`` of every field."""
        return Conditioning(self.embeds[idx], None if self.mask is None else self.mask[idx])

    def to(self, *args, **kwargs) -> Conditioning:
        return replace(
            self,
            **{
                f.name: getattr(self, f.name).to(*args, **kwargs)
                for f in fields(self)
                if getattr(self, f.name) is not None
            },
        )

    def pad_to(self, length: int) -> Conditioning:
        """Token embeddings ``(B, L, D)`` zero-padded to ``(B, length, D)``, mask 0 there."""
        if self.mask is None or self.embeds.shape[1] == length:
            return self
        extra = length - self.embeds.shape[1]
        if extra < 0:
            raise ValueError(f"cannot pad {self.embeds.shape[1]} tokens down to {length}")
        embeds = torch.nn.functional.pad(self.embeds, (0, 0, 0, extra))
        return Conditioning(embeds, torch.nn.functional.pad(self.mask, (0, extra)))

    @staticmethod
    def align(a: Conditioning, b: Conditioning) -> tuple[Conditioning, Conditioning]:
        """Both token conditionings padded to the longer length (pooled ones unchanged)."""
        if a.mask is None or b.mask is None:
            return a, b
        length = max(a.embeds.shape[1], b.embeds.shape[1])
        return a.pad_to(length), b.pad_to(length)

    @staticmethod
    def cat(items: list[Conditioning]) -> Conditioning:
        """Concatenate along the batch dimension.

        Token conditionings of different lengths are padded to the longest (mask 0 on the
        padding), so a prompt batch and the empty prompt concatenate for guidance.
        """
        masks = [c.mask for c in items]
        if any(m is None for m in masks):
            if not all(m is None for m in masks):
                raise ValueError("cannot concatenate conditionings with and without masks")
            return Conditioning(torch.cat([c.embeds for c in items]))
        length = max(c.embeds.shape[1] for c in items)
        items = [c.pad_to(length) for c in items]
        return Conditioning(
            torch.cat([c.embeds for c in items]), torch.cat([c.mask for c in items])
        )

    def expand_to(self, batch: int) -> Conditioning:
        """Broadcast a single condition (batch 1) to ``batch`` rows."""
        if len(self) == batch:
            return self
        if len(self) != 1:
            raise ValueError(f"cannot expand a conditioning of batch {len(self)} to {batch}")
        shape = (batch, *self.embeds.shape[1:])
        mask = None if self.mask is None else self.mask.expand(batch, -1)
        return Conditioning(self.embeds.expand(shape), mask)


def cat_cond(items: list[Conditioning | None]) -> Conditioning | None:
    """Concatenate optional conditionings (all ``None`` gives ``None``)."""
    if all(c is None for c in items):
        return None
    if any(c is None for c in items):
        raise ValueError("cannot concatenate a mix of conditioned and unconditioned rows")
    return Conditioning.cat(items)  # type: ignore[arg-type]


def index_cond(cond: Conditioning | None, idx: Tensor | slice) -> Conditioning | None:
    return None if cond is None else cond.index(idx)


@runtime_checkable
class VelocityNetwork(Protocol):
    """``F(x_t, t, r, cond) -> (B, *shape)`` average velocity from ``t`` to ``r``."""

    def __call__(
        self, x_t: Tensor, t: Tensor, r: Tensor, cond: Conditioning | None = None
    ) -> Tensor: ...


def expand_time(t: Tensor, x: Tensor) -> Tensor:
    """Reshape ``(B,)`` times to broadcast against ``x`` of shape ``(B, *shape)``."""
    return t.reshape(t.shape[0], *([1] * (x.dim() - 1))).to(x.dtype)
