"""Which ranks generate: under ZeRO-3 every forward needs every rank, elsewhere rank 0 alone."""

from __future__ import annotations

from typing import Any


def is_sharded(pl_module: Any) -> bool:
    """Whether the module's network is partitioned over ranks (DeepSpeed ZeRO-3)."""
    network = getattr(pl_module, "network", None)
    return network is not None and any(hasattr(p, "ds_id") for p in network.parameters())


def generates_here(trainer: Any, pl_module: Any) -> bool:
    """True on the ranks that must run ``generate`` (all of them when sharded); files and
    logs are still written by rank 0 only."""
    return trainer.is_global_zero or is_sharded(pl_module)
