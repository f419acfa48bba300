"""`BenchmarkCallback`: run a benchmark during / after training and log it.

    trainer:
      callbacks:
        - class_path: evaluation.callbacks.BenchmarkCallback
          init_args:
            benchmark: {class_path: evaluation.benchmarks.DigitsBenchmark,
                        init_args: {per_digit: 10}}
            nfes: [1, 2, 4]
            every_n_steps: 500

Images go to `<default_root_dir>/eval/<bench>/nfe<k>/step<NNNNNN>/` (resumable: a restarted
evaluation of the same step skips the images on disk). Every logger gets the scalars
`<bench>/nfe<k>/overall`, `<bench>/nfe<k>/<tag>` (and named extras such as digits `fd`);
MLflow loggers also get the per-tag table (`log_table`), `result.json` and the sample grid.
Inputs (judge paths, prompt files, the subset, the image size) are checked in `setup`, so a
missing file stops `fit` before the first step with one line saying which file to provide.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.loggers import MLFlowLogger

from evaluation.benchmarks.base import Benchmark
from evaluation.benchmarks.subset import PromptSubset
from evaluation.errors import BenchmarkInputError
from evaluation.evaluate import Evaluation, evaluate, per_tag_table
from evaluation.metrics import metric_prefix, scalar_metrics
from evaluation.module_generator import ModuleGenerator


class BenchmarkCallback(L.Callback):
    """Runs `benchmark` every `every_n_steps` optimizer steps and/or when training ends.

    Args:
        benchmark: any `evaluation.benchmarks` benchmark (judges as objects or local paths).
        nfes: NFEs to evaluate (default 1, 2, 4).
        every_n_steps: evaluate when `global_step` is a multiple of this (None: never).
        at_train_end: also evaluate when training ends (skipped if that step was just done).
        limit, every, ids: the prompt subset (first n / every k-th / given ids); none = full.
        seed: generation seed (the same images for the same weights).
        grid_per_tag: samples per tag row in the logged grid.
        style: force a sampler style ("few", "any", "mul"); None = the module's default.
        progress: show tqdm bars while generating and judging.
    """

    def __init__(
        self,
        benchmark: Benchmark,
        nfes: Sequence[int] = (1, 2, 4),
        every_n_steps: int | None = None,
        at_train_end: bool = True,
        limit: int | None = None,
        every: int | None = None,
        ids: list[str | int] | None = None,
        seed: int = 0,
        grid_per_tag: int = 8,
        style: str | None = None,
        progress: bool = False,
    ) -> None:
        if not isinstance(benchmark, Benchmark):
            raise BenchmarkInputError(
                f"benchmark must be an evaluation.benchmarks Benchmark, got "
                f"{type(benchmark).__name__}; use a class_path such as DigitsBenchmark"
            )
        bad = [n for n in nfes if isinstance(n, bool) or int(n) < 1]
        if not nfes or bad:
            raise BenchmarkInputError(f"nfes={list(nfes)}; give NFEs >= 1, e.g. [1, 2, 4]")
        if every_n_steps is not None and every_n_steps < 1:
            raise BenchmarkInputError(f"every_n_steps={every_n_steps}; use >= 1 or null")
        if every_n_steps is None and not at_train_end:
            raise BenchmarkInputError("the callback never runs; set every_n_steps or at_train_end")
        self.benchmark, self.nfes = benchmark, [int(n) for n in nfes]
        self.every_n_steps, self.at_train_end = every_n_steps, at_train_end
        self.subset = PromptSubset.of(limit, every, ids)
        self.seed, self.grid_per_tag, self.style = seed, grid_per_tag, style
        self.progress = progress
        self.history: list[dict[str, Any]] = []
        self._last_step: int | None = None
        self._warned_sharded = False

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        self.benchmark.select(self.subset)  # judge paths, prompt files, a non-empty subset
        generator = ModuleGenerator(pl_module, style=self.style)
        self.benchmark.check_images(generator.image_shape)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if self.every_n_steps and step > 0 and step % self.every_n_steps == 0:
            self.run(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.at_train_end:
            self.run(trainer, pl_module)

    def outdir(self, trainer: L.Trainer, nfe: int) -> Path:
        root = Path(trainer.default_root_dir) / "eval" / self.benchmark.name
        return root / f"nfe{nfe}" / f"step{trainer.global_step:06d}"

    def run(self, trainer: L.Trainer, pl_module: L.LightningModule) -> list[Evaluation]:
        """Evaluate every NFE at the current step once (rank 0 only) and log the results."""
        step = trainer.global_step
        if step == self._last_step or not trainer.is_global_zero:
            return []
        from twinflow.callbacks.ranks import is_sharded

        if is_sharded(pl_module):
            # Generation would need every rank inside the benchmark loop; not built yet.
            if not self._warned_sharded:
                self._warned_sharded = True
                print(f"{self.benchmark.name}: skipped under ZeRO-3 (a sharded network); "
                      "export the model and run `make eval MODEL=<export>`")
            return []
        self._last_step = step
        generator = ModuleGenerator(pl_module, style=self.style)
        done = []
        for nfe in self.nfes:
            ev = evaluate(self.benchmark, generator, self.outdir(trainer, nfe), nfe, self.subset,
                          self.seed, self.grid_per_tag, self.progress)
            metrics = scalar_metrics(ev.result, metric_prefix(ev.bench, nfe))
            self._log(trainer, ev, metrics)
            self.history.append({"step": step, "nfe": nfe, **metrics})
            done.append(ev)
        return done

    def _log(self, trainer: L.Trainer, ev: Evaluation, metrics: dict[str, float]) -> None:
        from twinflow.callbacks.mlflow_images import log_artifact

        step = trainer.global_step
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)
            logger.save()
        artifact_dir = f"eval/{ev.bench}/nfe{ev.nfe}/step{step:06d}"
        for logger in trainer.loggers:
            if isinstance(logger, MLFlowLogger):
                logger.experiment.log_table(logger.run_id, per_tag_table(ev.result),
                                            f"{artifact_dir}/per_tag.json")
        log_artifact(trainer, ev.result_path, artifact_dir)
        if ev.grid_path is not None:
            log_artifact(trainer, ev.grid_path, artifact_dir)
