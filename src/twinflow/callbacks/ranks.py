"""Which ranks generate: sharded (ZeRO-3, FSDP2), every forward needs every rank; else rank 0."""

from __future__ import annotations

from typing import Any


def is_sharded(pl_module: Any) -> bool:
    """Whether the module's network is partitioned over ranks (DeepSpeed ZeRO-3, FSDP2)."""
    from twinflow.networks.zero3 import zero3_partitioned
    from twinflow.strategies.fsdp2 import is_fsdp2

    network = getattr(pl_module, "network", None)
    if network is None:
        return False
    return is_fsdp2(network) or zero3_partitioned(network.parameters())


def generates_here(trainer: Any, pl_module: Any) -> bool:
    """True on the ranks that must run ``generate`` (all of them when sharded); files and
    logs are still written by rank 0 only."""
    return trainer.is_global_zero or is_sharded(pl_module)
