"""A callback for the fault tests: touches a file once training has reached a step."""

from __future__ import annotations

from pathlib import Path

import lightning as L


class TouchAtStep(L.Callback):
    def __init__(self, path: str, step: int = 3) -> None:
        self.path, self.step = Path(path), step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.step and not self.path.exists():
            self.path.write_text(str(trainer.global_step))
