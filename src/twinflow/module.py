"""``TwinFlowModule``: thin Lightning glue around one network and the TwinFlow objective.

The network is built in ``configure_model`` (so sharded strategies such as DeepSpeed ZeRO-3
can build it partitioned); the objective, sampler and network are plain torch.  The module
computes all loss terms in ``training_step`` and logs each, skips (and counts) steps with a
non-finite loss or gradient, keeps an optional EMA, and generates images for callbacks and
the ``sample`` command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import lightning as L
import numpy as np
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn

from twinflow.bf16_units import PRECISIONS, resolve_precision
from twinflow.codec import Codec, PixelCodec
from twinflow.data.batch import Batch
from twinflow.data.text_encoder import PromptConditioner
from twinflow.ema import EMA
from twinflow.networks.zero3 import zero3_partitioned
from twinflow.objective.objective import TwinFlowObjective
from twinflow.rank_agreement import any_rank
from twinflow.sampling.images import generate_images
from twinflow.sampling.presets import sampler_for
from twinflow.warmdown import LinearWarmdown, check_share
from twinflow.weights import warm_start


class TwinFlowModule(L.LightningModule):
    """One network trained with flow matching, RCGM or TwinFlow.

    Args:
        network: builds the network, ``F(x_t, t, r, cond)`` (see ``networks/contract.py``).
        objective: the loss (its settings choose flow matching, RCGM or TwinFlow).
        optimizer, lr_scheduler: injected by the CLI (``class_path`` in configs).
        ema_decay: EMA decay, or ``None`` for no EMA (then the online net under no-grad is the
            target network).
        codec: data space <-> images.
        conditioner: prompts -> conditioning (needed to generate from prompts).
        init_from: warm-start network weights (``.ckpt``/``.safetensors``/export folder).
        seed: per-step noise seed; step ``k`` on rank ``i`` reseeds with ``(seed, k, i)``, which
            makes resumed runs bit-identical to uninterrupted ones on CPU.
        sample_batch_size: batch size when generating.
        lr_warmdown: decay the learning rate linearly to 0 over this final share of
            ``trainer.max_steps`` (0 = constant; overrides follow ``--trainer.max_steps``).
        sample_precision: ``generate``'s arithmetic: ``fp32``, ``bf16`` (autocast) or
            ``auto`` (bf16 where it pays on the device, as ``NativeBF16Precision`` decides).
    """

    def __init__(
        self,
        network: Callable[[], nn.Module],
        objective: TwinFlowObjective | None = None,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | None = None,
        ema_decay: float | None = None,
        codec: Codec | None = None,
        conditioner: PromptConditioner | None = None,
        init_from: str | None = None,
        seed: int = 0,
        sample_batch_size: int = 250,
        lr_warmdown: float = 0.0,
        sample_precision: str = "fp32",
    ) -> None:
        super().__init__()
        if sample_precision not in PRECISIONS:
            raise ValueError(f"model.sample_precision must be one of {', '.join(PRECISIONS)}"
                             f", got {sample_precision!r}")
        if check_share(lr_warmdown) and lr_scheduler is not None:
            raise ValueError("give model.lr_warmdown or model.lr_scheduler, not both")
        if ema_decay is not None and not 0 < ema_decay < 1:
            raise ValueError(f"model.ema_decay must be in (0, 1) or null, got {ema_decay}")
        self.build_network = network
        self.objective = objective or TwinFlowObjective()
        self.optimizer_factory, self.scheduler_factory = optimizer, lr_scheduler
        self.ema_decay, self.init_from = ema_decay, init_from
        self.codec = codec or PixelCodec()
        self.conditioner = conditioner
        self.seed, self.sample_batch_size = seed, sample_batch_size
        self.lr_warmdown, self.sample_precision = lr_warmdown, sample_precision
        self.network: nn.Module | None = None
        self.ema: EMA | None = None
        self.skipped_steps = 0
        self.model_config: str | None = None  # YAML of the init args, set by the CLI

    # ---- construction ---------------------------------------------------------------------
    def configure_model(self) -> None:
        if self.network is not None:
            return
        self.network = self.build_network()
        if self.init_from:
            warm_start(self.network, self.init_from)
        fsdp2 = self._trainer is not None and self.device_mesh is not None
        if fsdp2:
            from twinflow.strategies.fsdp2 import shard_network

            shard_network(self.network, self.device_mesh)  # ModelParallelStrategy: FSDP2
        zero3 = zero3_partitioned(self.network.parameters())
        if (fsdp2 or zero3) and hasattr(self.objective, "row_select"):
            # A sharded forward is a collective: every rank must make the same calls. Rows by
            # mask make each call on every rank whatever the draws; by index (the CPU's
            # default), a rank whose draws leave no row for guidance or RCGM skips that call
            # and the other ranks wait for it forever.
            self.objective.row_select = "mask"
        if self.ema_decay is not None:
            if fsdp2:
                raise ValueError("model.ema_decay must be null under FSDP2 (a full EMA copy "
                                 "would undo the sharding)")
            if zero3:
                raise ValueError(
                    "model.ema_decay must be null under DeepSpeed ZeRO-3 (a full EMA copy would "
                    "undo the partitioning; the paper trains the 20B model without EMA, the "
                    "online network under no-grad is then the target)")
            self.ema = EMA(self.network, self.ema_decay)

    def configure_optimizers(self):
        # Frozen weights (the base under LoRA) get no optimizer state.
        trainable = [p for p in self.network.parameters() if p.requires_grad]
        optimizer = self.optimizer_factory(trainable)
        if self.lr_warmdown:
            scheduler = LinearWarmdown(self.trainer.max_steps, self.lr_warmdown).scheduler(
                optimizer)
        elif self.scheduler_factory is None:
            return optimizer
        else:
            scheduler = self.scheduler_factory(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    @property
    def sampling_network(self) -> nn.Module:
        return self.ema.shadow if self.ema is not None else self.network

    # ---- training ---------------------------------------------------------------------------
    def on_train_batch_start(self, batch: Batch, batch_idx: int) -> None:
        # Every micro-batch of a step reseeds with the step's seed: the objective draws the
        # whole logical batch and takes this micro-batch's rows, so accumulation neither
        # reuses noise nor differs from one step on the concatenated batch.
        count = max(1, self.trainer.accumulate_grad_batches) if self._trainer else 1
        micro = batch_idx % count
        self._micro = (micro, count)
        torch.manual_seed(self.seed * 1_000_003 + self.global_step * 4_099 + self.global_rank)
        if micro == 0:
            self._step_skipped = False

    @property
    def step_skipped(self) -> bool:
        """Whether every rank skips the current optimizer step (read by the strategies)."""
        return getattr(self, "_step_skipped", False)

    def training_step(self, batch: Batch, batch_idx: int):
        target = self.ema.shadow if self.ema is not None else None
        terms = self.objective(self.network, batch.x, batch.cond, batch.null_cond, target,
                               micro=getattr(self, "_micro", (0, 1)))
        logged = {f"train/{k}": v for k, v in terms.as_dict().items()}
        self.log("train/loss", logged.pop("train/loss").detach(), prog_bar=True)
        self.log_dict(logged, prog_bar=False)
        # Every rank decides together: one rank skipping alone would leave the others waiting
        # in the gradient collectives.
        if any_rank(not bool(torch.isfinite(terms.loss)), self.device):
            if not self.step_skipped:
                self.skip_step("loss")
            # Lightning refuses a None loss on several ranks. Under DeepSpeed the strategy
            # then runs neither backward nor engine.step() on any rank; elsewhere every rank
            # runs backward (DDP all-reduces during it) and on_before_optimizer_step drops the
            # non-finite gradients.
        return terms.loss

    def on_before_optimizer_step(self, optimizer) -> None:
        # FSDP2 gradients are DTensors: each rank checks its shard, the ranks then agree.
        grads = [getattr(p.grad, "_local_tensor", p.grad) for p in self.network.parameters()
                 if p.grad is not None]
        bad = bool(grads) and not bool(torch.isfinite(torch.stack([g.abs().sum() for g in grads])
                                                      .sum()))
        # Sharded gradients (FSDP) differ per rank: the decision is taken over all of them.
        if any_rank(bad, self.device) or self.step_skipped:
            # Dropping the gradients makes the optimizer leave weights and moments untouched.
            for p in self.network.parameters():
                p.grad = None
            if not self.step_skipped:
                self.skip_step("gradient")

    def skip_step(self, what: str) -> None:
        """Skip the current optimizer step (every rank calls it together) and count it."""
        self.skipped_steps += 1
        self._step_skipped = True
        rank_zero_warn(f"non-finite {what}: step skipped ({self.skipped_steps} so far)")

    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None) -> None:
        super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        # Here, not in on_train_batch_end: checkpoint callbacks run before that hook, and a
        # resumed run must see the EMA of every applied step.
        if self.ema is not None and not self._step_skipped:
            self.ema.update(self.network)
        self.log("train/skipped_steps", float(self.skipped_steps))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["twinflow"] = {
            "skipped_steps": self.skipped_steps,
            "model_config": self.model_config,
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.skipped_steps = int(checkpoint.get("twinflow", {}).get("skipped_steps", 0))

    # ---- evaluation ------------------------------------------------------------------------
    def _eval_loss(self, batch: Batch, batch_idx: int, stage: str) -> torch.Tensor:
        # Fixed noise per batch so validation curves compare like with like.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + batch_idx)
            terms = self.objective(self.network, batch.x, batch.cond, batch.null_cond)
        self.log_dict(
            {f"{stage}/{k}": v for k, v in terms.as_dict().items()}, batch_size=len(batch)
        )
        return terms.loss

    def validation_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._eval_loss(batch, batch_idx, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._eval_loss(batch, batch_idx, "test")

    def predict_step(self, batch: dict, batch_idx: int) -> np.ndarray:
        """``batch = {"prompts": [...], "seed": int, "nfe": int}`` -> ``(N, H, W, C)`` uint8."""
        return self.generate(batch["prompts"], nfe=int(batch["nfe"]), seed=int(batch["seed"]))

    def resolved_sample_precision(self) -> str:
        """``"bf16"`` or ``"fp32"``: what ``generate`` runs in on this module's device."""
        return resolve_precision(self.sample_precision, self.device.type)

    @torch.no_grad()
    def generate(
        self,
        prompts: Sequence[str] | None,
        nfe: int,
        seed: int,
        count: int | None = None,
        style: str | None = None,
        stochastic_ratio: float | None = None,
    ) -> np.ndarray:
        """Samples decoded by the codec: ``(N, H, W, C)`` uint8 images (points for toys).

        ``N = len(prompts)`` (or ``count`` for unconditional models).  Deterministic for a
        seed: the noise of row ``i`` depends only on ``(seed, i)`` batches of
        ``sample_batch_size``.  In ``sample_precision``.
        """
        self.configure_model()
        # `auto`: the device's bf16 decision (TWINFLOW_BF16 forces it); on a CPU with bf16
        # units the digits demo's 64-NFE reference samples cost 1.4x less in bf16, and its
        # scores move by under 1% (docs/results.md).
        return generate_images(
            self.sampling_network, sampler_for(nfe, style, stochastic_ratio), self.codec,
            self.conditioner, prompts, seed, count, self.sample_batch_size, self.device,
            bf16=self.resolved_sample_precision() == "bf16")
