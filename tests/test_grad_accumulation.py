"""Gradient accumulation: k micro-batches of B rows are one optimizer step on their k*B rows.

The objective draws the randomness of the whole logical batch from the step's seed and gives
each micro-batch its rows, so the equality holds to round-off, not only in expectation.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from twinflow.data.batch import Batch
from twinflow.module import TwinFlowModule
from twinflow.networks.contract import Conditioning
from twinflow.networks.toy_mlp import ToyMLP
from twinflow.objective import TwinFlowObjective
from twinflow.objective.guidance import GuidedVelocity
from twinflow.objective.partition import BatchPartition
from twinflow.objective.rcgm import RCGMTarget

ROWS = 24


def twinflow() -> TwinFlowObjective:
    # Every group, RCGM order 2, guidance and condition dropout: all the random draws.
    return TwinFlowObjective(
        partition=BatchPartition(e2e=0.2, mul=0.3, any=0.3, adv=0.2),
        rcgm=RCGMTarget(order=2, delta=0.01, clamp=1.0),
        guidance=GuidedVelocity(ratio=0.2),
        cond_dropout=0.3,
    )


def data() -> Batch:
    g = torch.Generator().manual_seed(3)
    labels = torch.randint(0, 4, (ROWS,), generator=g)
    embeds = torch.nn.functional.one_hot(labels, 5).float()
    null = Conditioning(torch.nn.functional.one_hot(torch.tensor([4]), 5).float())
    return Batch(torch.randn(ROWS, 2, generator=g), Conditioning(embeds), null)


def split(batch: Batch, k: int) -> list[Batch]:
    n = len(batch) // k
    return [Batch(batch.x[i * n:(i + 1) * n], Conditioning(batch.cond.embeds[i * n:(i + 1) * n]),
                  batch.null_cond) for i in range(k)]


def net() -> ToyMLP:
    torch.manual_seed(0)
    return ToyMLP(dim=2, hidden=32, depth=2, cond_dim=5)


def test_micro_batch_losses_average_to_the_whole_batch_loss():
    objective, network, batch = twinflow(), net(), data()
    torch.manual_seed(11)
    whole = objective(network, batch.x, batch.cond, batch.null_cond)
    for k in (2, 3, 4):
        parts = []
        for m, part in enumerate(split(batch, k)):
            torch.manual_seed(11)  # the module reseeds every micro-batch with the step seed
            parts.append(objective(network, part.x, part.cond, part.null_cond, micro=(m, k)).loss)
        assert torch.stack(parts).mean().item() == pytest.approx(whole.loss.item(), rel=1e-5)
        # Each micro-batch holds other rows of other groups: the losses really differ.
        assert len({round(p.item(), 6) for p in parts}) == k


def fit_one_step(batches: list[Batch], accumulate: int) -> dict[str, torch.Tensor]:
    module = TwinFlowModule(
        network=net,
        objective=twinflow(),
        optimizer=lambda params: torch.optim.SGD(params, lr=0.5),
        seed=5,
    )
    trainer = L.Trainer(
        accelerator="cpu", max_steps=1, accumulate_grad_batches=accumulate, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )
    trainer.fit(module, DataLoader(batches, batch_size=None, collate_fn=lambda b: b))
    assert trainer.global_step == 1
    return {k: v.detach().clone() for k, v in module.network.state_dict().items()}


def test_accumulating_two_micro_batches_equals_one_step_on_both():
    batch = data()
    start = net().state_dict()
    whole = fit_one_step([batch], accumulate=1)
    accumulated = fit_one_step(split(batch, 2), accumulate=2)
    moved = max((whole[k] - start[k]).abs().max().item() for k in start)
    assert moved > 1e-3
    for key in whole:
        torch.testing.assert_close(accumulated[key], whole[key], rtol=1e-5, atol=1e-6)
    # A single micro-batch is a different step: the comparison can tell steps apart.
    half = fit_one_step(split(batch, 2)[:1], accumulate=1)
    assert max((half[k] - whole[k]).abs().max().item() for k in whole) > 1e-4
