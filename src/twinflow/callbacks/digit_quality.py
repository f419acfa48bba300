"""Judge-based quality of the digits default, per NFE, logged at validation."""

from __future__ import annotations

import lightning as L
import numpy as np

from twinflow.callbacks.mlflow_images import log_metrics
from twinflow.callbacks.ranks import generates_here
from twinflow.data.digits import digit_prompt
from twinflow.judge.metrics import DigitJudge


def digit_prompts(per_digit: int) -> tuple[list[str], np.ndarray]:
    """``per_digit`` prompts per digit, cycling the templates; returns prompts and labels."""
    labels = np.repeat(np.arange(10), per_digit)
    prompts = [digit_prompt(int(d), k) for d in range(10) for k in range(per_digit)]
    return prompts, labels


class DigitQuality(L.Callback):
    """Logs ``quality/nfe{n}/{accuracy,fd,diversity}`` from the digit judge.

    Args:
        nfes: NFEs to score.
        per_digit: samples per digit (100 gives the numbers ``make demo`` reports).
        multi_step_nfe: also score the multi-step (``mul``) sampler at this NFE (0 skips).
        seed: sampling seed.
        cache_dir: judge cache folder.
    """

    def __init__(
        self,
        nfes: list[int] = (1, 2, 4),
        per_digit: int = 20,
        multi_step_nfe: int = 0,
        seed: int = 4321,
        cache_dir: str | None = None,
    ) -> None:
        self.nfes, self.per_digit = list(nfes), per_digit
        self.multi_step_nfe, self.seed, self.cache_dir = multi_step_nfe, seed, cache_dir
        self._judge: DigitJudge | None = None
        self.history: list[dict] = []

    @property
    def judge(self) -> DigitJudge:
        if self._judge is None:
            self._judge = DigitJudge(cache_dir=self.cache_dir)
        return self._judge

    def setup(self, trainer: L.Trainer, pl_module, stage: str) -> None:
        # Load (or, on first use, train) the judge now, not inside a validation hook.
        if trainer.is_global_zero:
            _ = self.judge

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        if trainer.sanity_checking or not generates_here(trainer, pl_module):
            return
        prompts, labels = digit_prompts(self.per_digit)
        runs = [(f"nfe{n}", n, None) for n in self.nfes]
        if self.multi_step_nfe:
            runs.append((f"multi{self.multi_step_nfe}", self.multi_step_nfe, "mul"))
        row = {"step": trainer.global_step}
        metrics = {}
        for name, nfe, style in runs:
            images = pl_module.generate(prompts, nfe=nfe, seed=self.seed, style=style)
            if not trainer.is_global_zero:
                continue  # this rank only took part in the sharded forward passes
            scores = self.judge.score(images, labels)
            for key, value in scores.as_dict().items():
                if key != "n":
                    metrics[f"quality/{name}/{key}"] = float(value)
                    row[f"{name}/{key}"] = value
        if trainer.is_global_zero:
            log_metrics(trainer, metrics, trainer.global_step)
            self.history.append(row)
