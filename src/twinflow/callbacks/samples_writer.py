"""Writes ``lightning predict`` outputs as ``samples.npz`` plus a PNG grid in the run folder."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
from lightning.pytorch.callbacks import BasePredictionWriter

from twinflow.viz import image_grid, save_png, save_samples


class SamplesWriter(BasePredictionWriter):
    """Collects predicted images and their prompts/labels; writes them when prediction ends.

    Args:
        out_dir: output folder (default: ``<default_root_dir>/predict``).
    """

    def __init__(self, out_dir: str | None = None) -> None:
        super().__init__(write_interval="epoch")
        self.out_dir = out_dir

    def write_on_epoch_end(self, trainer: L.Trainer, pl_module, predictions, batch_indices) -> None:
        batches = (
            predictions[0] if predictions and isinstance(predictions[0], list) else predictions
        )
        loader = trainer.predict_dataloaders
        loader = loader[0] if isinstance(loader, list) else loader
        meta = list(loader)
        images = np.concatenate(batches)
        prompts = [p for b in meta for p in b["prompts"]]
        labels = [lab for b in meta for lab in b.get("labels", [])] or None
        out = Path(self.out_dir or Path(trainer.default_root_dir) / "predict")
        nfe = meta[0]["nfe"]
        save_samples(out / "samples.npz", images, prompts, labels)
        if images.dtype == np.uint8:
            save_png(image_grid(images), out / f"grid_nfe{nfe}.png")
        print(f"wrote {len(images)} predicted samples to {out}")
