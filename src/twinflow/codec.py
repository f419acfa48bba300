"""Maps between the network's data space and what users look at.

``PixelCodec``: ``(N, C, H, W)`` floats in ``[-1, 1]`` <-> ``(N, H, W, C)`` uint8 images.
``PointCodec``: ``(N, D)`` points for low-dimensional toys (decoded as float arrays).
A latent-space backbone supplies a codec that wraps its VAE decoder behind the same methods.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class PixelCodec:
    """Images of ``channels x height x width`` pixels."""

    channels: int = 1
    height: int = 28
    width: int = 28
    is_image: bool = True

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.channels, self.height, self.width)

    def decode(self, x: Tensor) -> np.ndarray:
        """``(N, C, H, W)`` in ``[-1, 1]`` -> ``(N, H, W, C)`` uint8."""
        pixels = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return pixels.permute(0, 2, 3, 1).cpu().numpy()


@dataclass(frozen=True)
class PointCodec:
    """Points in ``R^dim``."""

    dim: int = 2
    is_image: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.dim,)

    def decode(self, x: Tensor) -> np.ndarray:
        return x.detach().float().cpu().numpy()
