"""Codecs without an autoencoder.

``PixelCodec``: ``(N, H, W, C)`` uint8 <-> ``(N, C, H, W)`` floats in ``[-1, 1]``.
``PointCodec``: ``(N, D)`` points for low-dimensional toys (decoded as float arrays).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class PixelCodec:
    """Images of ``channels x height x width`` pixels, modelled directly."""

    channels: int = 1
    height: int = 28
    width: int = 28
    is_image: bool = True

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.channels, self.height, self.width)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return (self.height, self.width, self.channels)

    def encode(self, images: Tensor) -> Tensor:
        """``(N, H, W)`` or ``(N, H, W, C)`` uint8 (tensor or array) -> ``(N, C, H, W)``."""
        x = torch.as_tensor(images).float()
        if x.dim() == 3:
            x = x[..., None]
        return x.permute(0, 3, 1, 2) / 127.5 - 1

    def decode(self, latents: Tensor) -> np.ndarray:
        """``(N, C, H, W)`` in ``[-1, 1]`` -> ``(N, H, W, C)`` uint8."""
        pixels = ((latents.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return pixels.permute(0, 2, 3, 1).cpu().numpy()


@dataclass(frozen=True)
class PointCodec:
    """Points in ``R^dim``."""

    dim: int = 2
    is_image: bool = False

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.dim,)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return (self.dim,)

    def encode(self, images: Tensor) -> Tensor:
        """``(N, D)`` points (tensor or array) -> float tensor."""
        return torch.as_tensor(images).float()

    def decode(self, latents: Tensor) -> np.ndarray:
        return latents.detach().float().cpu().numpy()
