"""The codec protocol: the map between what users look at and the network's data space.

A codec turns ``(N, H, W, C)`` uint8 images into ``(N, *latent_shape)`` float tensors that
the network models, and back.  ``PixelCodec`` is the identity up to scaling (pixels in
``[-1, 1]``); ``VAECodec`` wraps a diffusers autoencoder (Qwen-Image's or SANA's DC-AE) with
that model's latent normalisation.  ``TwinFlowModule``, the data preparation and the
evaluation generator only ever use these members, so a new codec plugs in without touching
them.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from torch import Tensor


@runtime_checkable
class Codec(Protocol):
    """Images <-> model space.

    Besides the two methods, a codec has these attributes (configs instantiate codecs by
    ``class_path``, which checks the methods):

    * ``is_image``: ``False`` for non-image data (the 2-D toy); ``decode`` then gives floats;
    * ``latent_shape``: ``(C, h, w)`` (or ``(D,)``) of one sample in model space at the
      codec's default resolution; the sampler draws noise of this shape;
    * ``image_shape``: ``(H, W, C)`` of one decoded image at that resolution.
    """

    def encode(self, images: Tensor) -> Tensor:
        """``(N, H, W, C)`` uint8 -> ``(N, *latent_shape)`` float (at the images' size)."""
        ...

    def decode(self, latents: Tensor) -> np.ndarray:
        """``(N, *latent_shape)`` -> ``(N, H, W, C)`` uint8 images (floats for non-images)."""
        ...
