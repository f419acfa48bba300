"""Judge-based quality of the digits default, per NFE, logged at validation."""

from __future__ import annotations

import lightning as L

from twinflow.callbacks.mlflow_images import log_metrics
from twinflow.callbacks.ranks import generates_here
from twinflow.judge.metrics import DigitJudge, DigitScores
from twinflow.judge.protocol import digit_prompts, sample_digits

__all__ = ["DigitQuality", "digit_prompts"]  # digit_prompts: re-exported for older imports


class DigitQuality(L.Callback):
    """Logs ``quality/{nfe<n>,multi<n>}/<metric>`` for every metric of ``DigitJudge.score``.

    Samples follow ``twinflow.judge.protocol`` (the first ``per_digit`` prompts of each
    digit, chunk seeds ``seed + j``), so a curve point equals what ``make eval BENCH=digits``
    or the demo's summary give for the same model, NFE, seed and count.

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
        # Load (or, on first use, train) the judges now, not inside a validation hook.
        if trainer.is_global_zero:
            _ = self.judge

    def runs(self) -> list[tuple[str, int, str | None]]:
        """``(name, nfe, style)`` of every scored sampler."""
        runs = [(f"nfe{n}", n, None) for n in self.nfes]
        if self.multi_step_nfe:
            runs.append((f"multi{self.multi_step_nfe}", self.multi_step_nfe, "mul"))
        return runs

    def score(self, pl_module, scoring: bool = True) -> dict[str, DigitScores]:
        """Sample every run on every rank (sharded forwards); score where ``scoring``."""
        out = {}
        for name, nfe, style in self.runs():
            images, _, labels = sample_digits(pl_module, self.per_digit, nfe, self.seed, style)
            if scoring:
                out[name] = self.judge.score(images, labels)
        return out

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        if trainer.sanity_checking or not generates_here(trainer, pl_module):
            return
        scores = self.score(pl_module, scoring=trainer.is_global_zero)
        if not trainer.is_global_zero:
            return  # this rank only took part in the sharded forward passes
        row, metrics = {"step": trainer.global_step}, {}
        for name, result in scores.items():
            for key, value in result.as_dict().items():
                if key != "n":
                    metrics[f"quality/{name}/{key}"] = float(value)
                    row[f"{name}/{key}"] = value
        log_metrics(trainer, metrics, trainer.global_step)
        self.history.append(row)
