"""A TwinFlow model (module, export folder or `.ckpt`) as an `ImageGenerator`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from evaluation.errors import BenchmarkInputError
from evaluation.images import check_batch, to_grey

Channels = Literal["native", "rgb", "grey"]


class ModuleGenerator:
    """`generate(prompts, nfe, seed)` through `TwinFlowModule.generate` (EMA weights if any).

    `channels`: "native" returns what the codec decodes (1 channel for the digits default),
    "rgb" repeats grey to 3 channels, "grey" converts RGB to luma. The benchmark judges read
    PNGs back as RGB (or grey for the digit judge), so "native" is right for every benchmark;
    the others serve callers that feed arrays to a judge directly. `style` forces a sampler
    style ("few", "any", "mul"); None uses the module's default for each NFE.
    """

    def __init__(self, module: Any, style: str | None = None, channels: Channels = "native"):
        codec = getattr(module, "codec", None)
        if codec is None or not getattr(codec, "is_image", False):
            raise BenchmarkInputError(
                "this model does not decode images (a toy model?); benchmark an image model"
            )
        if getattr(module, "conditioner", None) is None:
            raise BenchmarkInputError(
                "this model has no text conditioner; benchmarks need a text-to-image model"
            )
        if channels not in ("native", "rgb", "grey"):
            raise BenchmarkInputError(f"channels={channels!r}; use 'native', 'rgb' or 'grey'")
        self.module, self.style, self.channels = module, style, channels

    @classmethod
    def from_path(
        cls, path: str | os.PathLike[str], style: str | None = None, channels: Channels = "native"
    ) -> ModuleGenerator:
        """Load an export folder (model.yaml + model.safetensors) or a twinflow `.ckpt`."""
        from twinflow.export import load_module
        from twinflow.weights import CheckpointError

        source = Path(path)
        if not source.exists():
            raise BenchmarkInputError(
                f"model {source} not found; pass a twinflow .ckpt or an export folder"
            )
        try:
            module = load_module(source)
        except (CheckpointError, FileNotFoundError, ValueError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise BenchmarkInputError(f"cannot load model {source}: {first}") from err
        return cls(module, style=style, channels=channels)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of the images `generate` returns."""
        h, w, c = self.module.codec.image_shape
        c = {"native": c, "rgb": 3, "grey": 1}[self.channels]
        return int(h), int(w), int(c)

    def generate(self, prompts: Sequence[str], nfe: int, seed: int) -> np.ndarray:
        images = self.module.generate(list(prompts), nfe=int(nfe), seed=int(seed), style=self.style)
        images = check_batch(np.asarray(images), len(prompts))
        if self.channels == "rgb" and images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        elif self.channels == "grey":
            images = to_grey(images)
        return np.ascontiguousarray(images)
