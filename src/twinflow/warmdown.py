"""Linear learning-rate warm-down: the configured rate, then linearly to 0 at the last step.

Used through ``torch.optim.lr_scheduler.LambdaLR`` (stepped once per optimizer step) by
``TwinFlowModule`` when ``model.lr_warmdown`` is set.
"""

from __future__ import annotations

import torch


def check_share(share: float) -> float:
    """``share`` if it is a valid ``model.lr_warmdown`` (in ``[0, 1]``), else ``ValueError``."""
    if not 0 <= share <= 1:
        raise ValueError(f"model.lr_warmdown must be in [0, 1], got {share}")
    return share


class LinearWarmdown:
    """The factor on the learning rate at optimizer step ``k`` (0-based) of ``total``:

        f(k) = 1                                     for k <  s,  s = total * (1 - share)
        f(k) = max(0, (total - k) / max(total - s, 1))  for k >= s

    so ``share = 0`` keeps the rate constant and ``share = 1`` decays it over the whole run.
    """

    def __init__(self, total_steps: int, share: float) -> None:
        if total_steps <= 0:
            raise ValueError("model.lr_warmdown needs a positive trainer.max_steps (the "
                             f"warm-down ends there), got {total_steps}")
        self.total, self.start = total_steps, total_steps * (1 - check_share(share))

    def __call__(self, step: int) -> float:
        if step < self.start:
            return 1.0
        return max(0.0, (self.total - step) / max(self.total - self.start, 1))

    def scheduler(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, self)


__all__ = ["LinearWarmdown", "check_share"]
