"""A callback for the multi-rank tests (runs inside each rank of a `lightning fit`)."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch
from safetensors.torch import save_file


class RankProbe(L.Callback):
    """Injects a NaN batch on one rank at one step; records partition sizes and skips; rank 0
    writes the gathered network weights as loaded (``out/initial.safetensors``) and at the end
    (``out/weights.safetensors``)."""

    def __init__(self, out: str, nan_step: int = 1, nan_rank: int = 1,
                 grad_nan: bool = False) -> None:
        self.out, self.nan_step, self.nan_rank = Path(out), nan_step, nan_rank
        self.grad_nan = grad_nan  # poison one gradient shard instead of the batch
        self.held = self.total = 0

    def on_train_start(self, trainer, pl_module) -> None:
        params = list(pl_module.network.parameters())
        self.held = sum(p.ds_tensor.numel() if hasattr(p, "ds_tensor") else
                        p.to_local().numel() if hasattr(p, "to_local") else p.numel()
                        for p in params)  # ZeRO-3 partition, FSDP2 local shard, or all
        self.total = sum(getattr(p, "ds_numel", p.numel()) for p in params)
        self._save(trainer, pl_module, "initial.safetensors")  # the weights as loaded

    def _save(self, trainer, pl_module, name: str) -> None:
        from twinflow.strategies.fsdp2 import full_state_dict, is_fsdp2

        net = pl_module.network
        self.out.mkdir(parents=True, exist_ok=True)
        if is_fsdp2(net):
            state = full_state_dict(net)  # every rank takes part
            if trainer.global_rank == 0:
                save_file({k: v.contiguous() for k, v in state.items()}, self.out / name)
            return
        zero = [p for p in net.parameters() if hasattr(p, "ds_id")]
        if zero:
            import deepspeed

            ctx = deepspeed.zero.GatheredParameters(zero)  # every rank takes part
        else:
            ctx = torch.no_grad()
        self.out.mkdir(parents=True, exist_ok=True)
        with ctx:
            if trainer.global_rank == 0:
                state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
                save_file(state, self.out / name)

    def _poisoned_here(self, trainer) -> bool:
        return trainer.global_step == self.nan_step and trainer.global_rank == self.nan_rank

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._poisoned_here(trainer) and not self.grad_nan:
            batch.x.fill_(float("nan"))

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        # A finite loss with a NaN in this rank's gradient partition only (ZeRO-3).
        if self.grad_nan and self._poisoned_here(trainer):
            from deepspeed.utils import safe_get_local_grad, safe_set_local_grad

            param = next(p for p in pl_module.network.parameters() if p.requires_grad)
            grad = safe_get_local_grad(param).clone()
            grad.view(-1)[0] = float("nan")
            safe_set_local_grad(param, grad)

    def on_train_end(self, trainer, pl_module) -> None:
        self._save(trainer, pl_module, "weights.safetensors")
        record = {"rank": trainer.global_rank, "held": self.held, "total": self.total,
                  "skipped": pl_module.skipped_steps, "step": trainer.global_step,
                  "row_select": getattr(pl_module.objective, "row_select", None)}
        (self.out / f"rank{trainer.global_rank}.json").write_text(json.dumps(record))
