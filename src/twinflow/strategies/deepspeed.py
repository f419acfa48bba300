"""DeepSpeed strategies: TwinFlow's skipped steps honoured, and ZeRO on CPU ranks.

``TwinFlowDeepSpeedStrategy`` is Lightning's ``DeepSpeedStrategy`` that honours
``TwinFlowModule``'s skipped steps.  When the loss is non-finite on any rank, every rank
agrees to skip (``module.py``); the strategy then runs backward on no rank, so none waits in
ZeRO's gradient collectives, and applies no update, so weights and optimizer state stay
untouched.  Non-finite *gradients* behind a finite loss (DeepSpeed itself checks them under
fp16 only) are caught at the accumulation boundary: each rank checks its own gradient
partition (ZeRO-3: ``safe_get_local_grad``), the ranks agree, and on a skip the reduced
gradients are dropped.  Under gradient accumulation a skip covers the whole optimizer step
(every micro-batch of it), and the engine's micro-step counter still advances, so its
accumulation boundary stays on Lightning's.

``CPUDeepSpeedStrategy`` removes the stock strategy's CUDA-only guard and uses gloo, so real
ZeRO-2/3 runs on DeepSpeed's CPU accelerator: for development and the multi-rank tests.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from lightning.pytorch.plugins.precision.deepspeed import DeepSpeedPrecision
from lightning.pytorch.strategies import DDPStrategy, DeepSpeedStrategy
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from twinflow.networks.zero3 import zero3_partitioned
from twinflow.rank_agreement import any_rank


class SkippingDeepSpeedPrecision(DeepSpeedPrecision):
    """No backward and no ``engine.step()`` for a step the module skipped on every rank."""

    def backward(self, tensor: Any, model: Any, *args: Any, **kwargs: Any) -> None:
        if getattr(model, "step_skipped", False):
            return  # every rank agreed: none enters ZeRO's gradient collectives
        # Lightning has already divided the loss by accumulate_grad_batches; DeepSpeed's
        # engine would divide it again (gradients 1/k^2 of the step's under accumulation).
        kwargs.setdefault("scale_wrt_gas", False)
        super().backward(tensor, model, *args, **kwargs)

    def optimizer_step(self, optimizer: Any, model: Any, closure: Any, **kwargs: Any) -> Any:
        # Lightning calls this on every micro-batch; DeepSpeed's engine counts micro-batches
        # and applies the update at the accumulation boundary.
        closure_result = closure()  # training_step (where ranks agree on a skip) and backward
        self._after_closure(model, optimizer)
        engine = model.trainer.model
        boundary = engine.is_gradient_accumulation_boundary()
        if boundary and not getattr(model, "step_skipped", False):
            # The reduced gradients are complete only at the boundary.
            bad = any_rank(not local_gradients_finite(engine), model.device)
            if bad and hasattr(model, "skip_step"):
                model.skip_step("gradient")  # every rank takes this branch together
        if getattr(model, "step_skipped", False):
            skip_engine_step(engine, boundary)
            return closure_result
        if model.automatic_optimization and closure_result is None:
            raise MisconfigurationException(
                "Skipping backward by returning `None` from `training_step` is not supported "
                "by DeepSpeed")
        return engine.step(**kwargs)


def skip_engine_step(engine: Any, boundary: bool) -> None:
    """``engine.step()`` without an update: the window's gradients dropped, weights and
    optimizer moments untouched, the engine's counters advanced as for DeepSpeed's own
    overflow skip (so the next accumulation window starts where Lightning's does)."""
    engine.optimizer.zero_grad()
    if boundary:
        engine.global_steps += 1
        engine.global_samples += engine.train_batch_size()
        engine.skipped_steps += 1
    engine.micro_steps += 1


def local_gradients_finite(engine: Any) -> bool:
    """Whether this rank's share of the reduced gradients is finite (call on every rank).

    ZeRO-3 keeps each rank's gradient partition inside the optimizer (``p.grad`` is empty);
    ZeRO-1/2 optimizers answer through ``has_overflow`` (itself agreed across ranks).
    """
    params = [p for p in engine.module.parameters() if p.requires_grad]
    if zero3_partitioned(params):
        from deepspeed.utils import safe_get_local_grad

        grads = [safe_get_local_grad(p) for p in params]
    elif hasattr(engine.optimizer, "has_overflow") and engine.zero_optimization():
        return not engine.optimizer.has_overflow(partition_gradients=True)
    else:
        grads = [p.grad for p in params]
    sums = [g.float().abs().sum() for g in grads if g is not None]
    return not sums or bool(torch.isfinite(torch.stack(sums).sum()))


class TwinFlowDeepSpeedStrategy(DeepSpeedStrategy):
    """Lightning's DeepSpeed strategy with :class:`SkippingDeepSpeedPrecision`.

    Takes every ``DeepSpeedStrategy`` argument (``stage``, ``offload_optimizer``,
    ``offload_parameters``, bucket sizes, ``config``...).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # DeepSpeed wants a micro-batch size for its throughput log only; "auto" would read it
        # from a batch sampler, which the step-indexed streams do not have.
        if kwargs.get("logging_batch_size_per_gpu", "auto") == "auto":
            kwargs["logging_batch_size_per_gpu"] = 1
        super().__init__(*args, **kwargs)

    @property
    def precision_plugin(self) -> Any:
        return super().precision_plugin

    @precision_plugin.setter
    def precision_plugin(self, plugin: Any) -> None:
        if type(plugin) is DeepSpeedPrecision:
            plugin = SkippingDeepSpeedPrecision(plugin.precision)
        self._precision_plugin = plugin


class CPUDeepSpeedStrategy(TwinFlowDeepSpeedStrategy):
    """DeepSpeed ZeRO on CPU processes over gloo (DeepSpeed's CPU accelerator)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
        if kwargs.get("process_group_backend") is None:
            kwargs["process_group_backend"] = "gloo"
        super().__init__(*args, **kwargs)

    @property
    def root_device(self) -> torch.device:
        # DeepSpeed takes the device index as its rank's device number; a bare "cpu" has none.
        return torch.device("cpu", self.local_rank)

    def setup_environment(self) -> None:
        # The stock strategy refuses anything but CUDA here; the DDP setup below is all a CPU
        # rank needs (DeepSpeed picks its CPU accelerator from DS_ACCELERATOR).
        DDPStrategy.setup_environment(self)

    def setup_distributed(self) -> None:
        # As the parent, without its check that device indices equal local ranks: CPU
        # devices have no index.
        from lightning.fabric.utilities.seed import reset_seed

        reset_seed()
        self.set_world_ranks()
        self._init_deepspeed_distributed()
