"""Text-to-image data module for the embedded default: MNIST-5k digits with text prompts.

Each training row pairs a digit image with one of the prompt templates for its label (drawn per
step), encoded once by the text encoder and cached.  Pixels map to ``[-1, 1]``.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from twinflow.data.batch import Batch
from twinflow.data.digits import PROMPT_TEMPLATES, all_prompts, digit_prompt, load_mnist5k
from twinflow.data.stream import resumable_loader
from twinflow.data.text_encoder import MiniLMConditioner
from twinflow.networks.contract import Conditioning


def to_model_space(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``(N, H, W)`` or ``(N, H, W, C)`` uint8 -> ``(N, C, H, W)`` float in ``[-1, 1]``."""
    x = torch.as_tensor(images).float()
    if x.dim() == 3:
        x = x[..., None]
    return x.permute(0, 3, 1, 2) / 127.5 - 1


class DigitsDataModule(L.LightningDataModule):
    """MNIST-5k text-to-image batches (:class:`Batch`).

    Args:
        batch_size: global training batch size.
        split: ``all`` (5,000 images) or ``train`` (the judge's 4,000) for training.
        val_batch_size: validation batch size over the 1,000 held-out digits.
        seed: data order and template seed.
        text_encoder_path: local sentence-transformers folder (default: bundled MiniLM).
        cache_dir: where text embeddings are cached (default ``$TWINFLOW_CACHE``).
        predict_per_digit, predict_nfe, predict_seed: what ``lightning predict`` generates
            (``predict_per_digit`` prompts per digit, cycling the templates).
    """

    def __init__(
        self,
        batch_size: int = 128,
        split: str = "all",
        val_batch_size: int = 250,
        seed: int = 0,
        text_encoder_path: str | None = None,
        cache_dir: str | None = None,
        predict_per_digit: int = 10,
        predict_nfe: int = 1,
        predict_seed: int = 0,
    ) -> None:
        super().__init__()
        if batch_size < 1 or val_batch_size < 1:
            raise ValueError(f"data.batch_size and data.val_batch_size must be >= 1, got "
                             f"{batch_size} and {val_batch_size}")
        if predict_per_digit < 1 or predict_nfe < 1:
            raise ValueError("data.predict_per_digit and data.predict_nfe must be >= 1")
        self.predict_per_digit, self.predict_nfe = predict_per_digit, predict_nfe
        self.predict_seed = predict_seed
        if batch_size < 1 or val_batch_size < 1:
            raise ValueError("data.batch_size and data.val_batch_size must be >= 1")
        if split not in ("all", "train"):
            raise ValueError(f"data.split={split!r}: use 'all' or 'train'")
        self.batch_size, self.val_batch_size = batch_size, val_batch_size
        self.split, self.seed = split, seed
        # Checked now (a bad path fails before any work); loaded only if no model shares its own.
        self.conditioner = MiniLMConditioner(text_encoder_path, cache_dir)
        self._ready = False

    def _shared_conditioner(self):
        """The model's own conditioner when trained by one (one encoder per run), else ours."""
        module = getattr(self.trainer, "lightning_module", None) if self.trainer else None
        shared = getattr(module, "conditioner", None)
        return shared if shared is not None else self.conditioner

    def setup(self, stage: str | None = None) -> None:
        if self._ready:
            return
        self.conditioner = self._shared_conditioner()
        train, heldout = load_mnist5k(self.split), load_mnist5k("heldout")
        self.train_x = to_model_space(train.images)
        self.train_y = torch.as_tensor(train.labels)
        self.val_x = to_model_space(heldout.images)
        self.val_y = torch.as_tensor(heldout.labels)
        # (10, T, 384): embeddings of every (digit, template) prompt.
        table = self.conditioner.encode(all_prompts()).embeds
        self.prompt_table = table.view(10, len(PROMPT_TEMPLATES), -1)
        self.null_cond = self.conditioner.null()
        self._ready = True

    def _batch(self, x: torch.Tensor, y: torch.Tensor, templates: torch.Tensor) -> Batch:
        cond = Conditioning(self.prompt_table[y, templates])
        return Batch(x=x, cond=cond, null_cond=self.null_cond, labels=y)

    def _train_batch(self, idx: torch.Tensor, g: torch.Generator) -> Batch:
        templates = torch.randint(len(PROMPT_TEMPLATES), (len(idx),), generator=g)
        return self._batch(self.train_x[idx], self.train_y[idx], templates)

    def train_dataloader(self) -> DataLoader:
        return resumable_loader(
            self.trainer, len(self.train_y), self.batch_size, self._train_batch, self.seed
        )

    def val_dataloader(self) -> DataLoader:
        n = len(self.val_y)
        batches = [
            self._batch(
                self.val_x[i : i + self.val_batch_size],
                self.val_y[i : i + self.val_batch_size],
                torch.arange(i, min(i + self.val_batch_size, n)) % len(PROMPT_TEMPLATES),
            )
            for i in range(0, n, self.val_batch_size)
        ]
        return DataLoader(batches, batch_size=None)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    def predict_dataloader(self) -> DataLoader:
        """One batch of ``{"prompts", "labels", "nfe", "seed"}`` for ``predict_step``."""
        labels = [d for d in range(10) for _ in range(self.predict_per_digit)]
        prompts = [digit_prompt(d, k) for d in range(10) for k in range(self.predict_per_digit)]
        batch = {
            "prompts": prompts,
            "labels": labels,
            "nfe": self.predict_nfe,
            "seed": self.predict_seed,
        }
        return DataLoader([batch], batch_size=None)
