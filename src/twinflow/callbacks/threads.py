"""Pin the number of intra-op CPU threads for a run.

Tiny networks (the 2-D toy) spend their time in thread synchronisation, not arithmetic: one
thread is several times faster there, and far more robust when other processes share the CPU.
"""

from __future__ import annotations

import lightning as L
import torch


class TorchThreads(L.Callback):
    """``torch.set_num_threads(threads)`` when the run starts."""

    def __init__(self, threads: int = 1) -> None:
        if threads < 1:
            raise ValueError(f"TorchThreads needs threads >= 1, got {threads}")
        self.threads = threads

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        torch.set_num_threads(self.threads)
