"""A checkpoint when a fit is stopped: SIGTERM (a scheduler's preemption) or Ctrl-C.

Lightning turns SIGTERM into ``SIGTERMException`` at the end of a batch, after every rank has
agreed on it, so the state is a whole step: it is saved as ``checkpoints/last.ckpt`` (every
rank takes part, as sharded saves need), and ``--ckpt_path`` resumes from it.  Ctrl-C can land
anywhere in a step, so a single-process fit saves ``checkpoints/interrupted.ckpt`` beside, never
over, ``last.ckpt``; under several ranks Ctrl-C saves nothing (the ranks are not at one point).
Single-file checkpoints are written beside and renamed (``twinflow.checkpoint_io``), so a kill
mid-write leaves the old one.
"""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.exceptions import SIGTERMException


def save_atomically(trainer: L.Trainer, path: Path) -> None:
    """``trainer.save_checkpoint`` to ``path`` via a temporary name (a collective)."""
    from twinflow.checkpoint_io import AtomicCheckpointIO

    if (getattr(trainer.strategy, "zero_stage_3", False) or trainer.world_size > 1
            or isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)):
        # sharded folders / rank-0 writes: no rename protocol; AtomicCheckpointIO: its own
        trainer.save_checkpoint(path, weights_only=False)  # the full, resumable state
        return
    tmp = path.with_name(f".{path.name}.tmp")
    trainer.save_checkpoint(tmp, weights_only=False)
    os.replace(tmp, path)


class InterruptCheckpoint(L.Callback):
    """Saves a checkpoint on SIGTERM (``last.ckpt``) and Ctrl-C (``interrupted.ckpt``)."""

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule,
                     exception: BaseException) -> None:
        if trainer.state.fn != "fit" or trainer.global_step == 0:
            return
        folder = Path(trainer.default_root_dir) / "checkpoints"
        if isinstance(exception, SIGTERMException):
            name = "last.ckpt"
        elif isinstance(exception, KeyboardInterrupt) and trainer.world_size == 1:
            name = "interrupted.ckpt"
        else:
            return
        folder.mkdir(parents=True, exist_ok=True)
        save_atomically(trainer, folder / name)
        rank_zero_info(f"stopped at step {trainer.global_step}: saved {folder / name}; resume "
                       f"with --ckpt_path {folder / name}")
