"""FSDP2 (``torch.distributed.fsdp.fully_shard``) for the networks, under Lightning's
``ModelParallelStrategy``.

That strategy hands the LightningModule a device mesh and expects ``configure_model`` to
shard the model itself; :func:`shard_network` does it the usual way: every transformer block
(each ``nn.ModuleList`` named ``*blocks``) becomes its own FSDP unit, gathered for its forward
and backward only, and the rest of the network one more unit.  Data parallelism runs over the
mesh's ``data_parallel`` dimension.
"""

from __future__ import annotations

from typing import Any

from torch import nn


def block_lists(network: nn.Module) -> list[nn.ModuleList]:
    return [m for name, m in network.named_modules()
            if isinstance(m, nn.ModuleList) and name.rsplit(".", 1)[-1].endswith("blocks")]


def shard_network(network: nn.Module, mesh: Any) -> nn.Module:
    """Shard ``network`` in place over ``mesh["data_parallel"]``; returns it."""
    from torch.distributed.fsdp import fully_shard

    dp = mesh["data_parallel"]
    for blocks in block_lists(network):
        for block in blocks:
            fully_shard(block, mesh=dp)
    fully_shard(network, mesh=dp)
    return network


def is_fsdp2(network: nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(network, FSDPModule)


def full_state_dict(network: nn.Module) -> dict:
    """The unsharded ``state_dict`` on CPU (a collective: every rank calls it)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(
        network, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
