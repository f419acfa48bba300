"""Prompts -> decoded images: the one generation loop (plain torch).

``TwinFlowModule.generate`` calls it, and through that every consumer: the demo's scores, the
validation grids and curves, ``twinflow sample``, ``lightning predict`` and ``make eval``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from twinflow.codec import Codec
from twinflow.data.text_encoder import PromptConditioner
from twinflow.sampling.sampler import AnyStepSampler


@torch.no_grad()
def generate_images(
    net: nn.Module,
    sampler: AnyStepSampler,
    codec: Codec,
    conditioner: PromptConditioner | None,
    prompts: Sequence[str] | None,
    seed: int,
    count: int | None = None,
    batch_size: int = 250,
    device: torch.device | str = "cpu",
    bf16: bool = False,
) -> np.ndarray:
    """``(N, H, W, C)`` uint8 images (points for toys), ``N = len(prompts)`` or ``count``.

    Batch ``[a, b)`` draws its noise ``(b - a, *codec.latent_shape)`` and the sampler's
    from ``torch.Generator`` seeded ``seed * 1_000_003 + a``: row ``i`` depends only on
    ``seed`` and its batch, never on the global RNG.  ``bf16`` runs the network calls under
    bfloat16 autocast (the sampler's update and the decoding stay fp32).
    """
    device = torch.device(device)
    was_training = net.training
    net.eval()
    n = len(prompts) if prompts is not None else int(count or 0)
    out = []
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        g = torch.Generator().manual_seed(seed * 1_000_003 + start)
        noise = torch.randn(stop - start, *codec.latent_shape, generator=g).to(device)
        cond = None
        if prompts is not None:
            if conditioner is None:
                raise ValueError("this model has no conditioner: generate with prompts=None")
            cond = conditioner.encode(list(prompts[start:stop])).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            x = sampler.sample(net, noise, cond, generator=g)
        out.append(codec.decode(x.float()))
    net.train(was_training)
    return np.concatenate(out) if out else np.zeros((0,), np.uint8)


__all__ = ["generate_images"]
