"""CLIP zero-shot colour classification (transformers) as a GenEval `ColorClassifier`.

Upstream uses open_clip ViT-L-14 (OpenAI weights); the HF `openai/clip-vit-large-patch14`
holds the same weights and is loaded here from a local folder only. Per object class, the
zero-shot head is built from three templates per colour c:

    "a photo of a {c} {class}", "a photo of a {c}-colored {class}", "a photo of a {c} object"
    w_c = normalize(mean_t normalize(text_embed(template_t(c))))
    colour(crop) = argmax_c  normalize(image_embed(crop)) . w_c
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from evaluation.errors import BenchmarkInputError
from evaluation.geneval.prompts import COLORS

TEMPLATES: tuple[str, ...] = (
    "a photo of a {c} {cls}",
    "a photo of a {c}-colored {cls}",
    "a photo of a {c} object",
)


def _embedding(out: object) -> torch.Tensor:
    # transformers 5 returns a model output whose pooler_output is the projected embedding;
    # older versions return the tensor itself.
    return out if isinstance(out, torch.Tensor) else out.pooler_output  # type: ignore[attr-defined]


class ClipColorClassifier:
    """`ColorClassifier` over `CLIPModel` + `AutoProcessor` from a local folder."""

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        device: str | torch.device = "cpu",
        batch_size: int = 16,
        colors: Sequence[str] = COLORS,
    ) -> None:
        from transformers import AutoProcessor, CLIPModel

        if not os.path.isdir(model_path):
            raise BenchmarkInputError(
                f"CLIP folder {model_path} not found; pass a local save_pretrained folder"
            )
        self.processor = AutoProcessor.from_pretrained(model_path, local_files_only=True)
        self.model = CLIPModel.from_pretrained(model_path, local_files_only=True)
        self.model.to(device).eval()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.colors = tuple(colors)
        self._heads: dict[str, torch.Tensor] = {}
        self.name = f"clip:{os.path.basename(os.path.normpath(model_path))}"

    @torch.no_grad()
    def head(self, class_name: str) -> torch.Tensor:
        """(n_colors, D) unit-norm zero-shot weights for `class_name` (cached)."""
        if class_name not in self._heads:
            texts = [t.format(c=c, cls=class_name) for c in self.colors for t in TEMPLATES]
            tokens = self.processor(text=texts, return_tensors="pt", padding=True)
            tokens = {k: v.to(self.device) for k, v in tokens.items()}
            emb = _embedding(self.model.get_text_features(**tokens)).float()
            emb = emb / emb.norm(dim=-1, keepdim=True)
            per_color = emb.view(len(self.colors), len(TEMPLATES), -1).mean(1)
            self._heads[class_name] = per_color / per_color.norm(dim=-1, keepdim=True)
        return self._heads[class_name]

    @torch.no_grad()
    def classify(self, crops: Sequence[np.ndarray], class_name: str) -> list[str]:
        """Colour name per (h, w, 3) uint8 crop."""
        head = self.head(class_name)
        names: list[str] = []
        for start in range(0, len(crops), self.batch_size):
            chunk = list(crops[start : start + self.batch_size])
            pixels = self.processor(images=chunk, return_tensors="pt")["pixel_values"]
            emb = _embedding(self.model.get_image_features(pixel_values=pixels.to(self.device)))
            emb = emb.float() / emb.float().norm(dim=-1, keepdim=True)
            names.extend(self.colors[int(i)] for i in (emb @ head.T).argmax(-1))
        return names
