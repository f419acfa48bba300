"""The training progress bar in steps: ``Train step ━━━━ 40/1500``.

Fits here are driven by ``trainer.max_steps`` (``max_epochs`` is ``-1``). Lightning's
``RichProgressBar`` still counts batches of the current epoch against the epoch's length and
describes the bar as ``Epoch 0/-2``; after a resume it shows counts such as ``40/29``.  This bar
counts optimizer steps, ``trainer.global_step`` of ``trainer.max_steps``, across epochs and
resumes (a resumed run starts at its step); epoch-driven fits (``max_steps`` unset) keep
Lightning's bar unchanged.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar


class StepProgressBar(RichProgressBar):
    """``RichProgressBar`` whose training bar is ``global_step / max_steps``."""

    description = "Train step"

    def _step_based(self) -> bool:
        return (self.trainer.max_steps or -1) > 0

    def _get_train_description(self, current_epoch: int) -> str:
        if not self._step_based():
            return super()._get_train_description(current_epoch)
        return f"{self.description:{len(self.validation_description)}}"  # no flicker

    @property
    def total_train_batches(self) -> int | float:
        return self.trainer.max_steps if self._step_based() else super().total_train_batches

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._step_based() or self.is_disabled:
            return super().on_train_epoch_start(trainer, pl_module)
        if self.progress is not None and self.train_progress_bar_id is None:
            # one bar for the whole fit: later epochs continue it instead of resetting
            self.train_progress_bar_id = self._add_task(
                self.total_train_batches, self._get_train_description(trainer.current_epoch))
            self._update(self.train_progress_bar_id, trainer.global_step)
        self.refresh()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        if not self._step_based():
            return super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if not self.is_disabled and self.train_progress_bar_id is None:
            self._initialize_train_progress_bar_id()
        self._update(self.train_progress_bar_id, trainer.global_step)
        self._update_metrics(trainer, pl_module)
        self.refresh()


def use_step_progress_bar(trainer: L.Trainer) -> bool:
    """Replace Lightning's default ``RichProgressBar`` (exactly that class, as Lightning adds
    it when no bar is configured) with :class:`StepProgressBar`.  Returns whether it did."""
    for i, callback in enumerate(trainer.callbacks):
        if type(callback) is RichProgressBar:
            trainer.callbacks[i] = StepProgressBar(
                refresh_rate=callback.refresh_rate, leave=callback._leave, theme=callback.theme,
                console_kwargs=callback._console_kwargs)
            return True
    return False
