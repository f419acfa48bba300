"""``ModelParallelStrategy`` set up for FSDP2 data parallelism over every rank.

Lightning's strategy defaults to tensor parallelism within a node (``data_parallel_size``
= nodes); TwinFlow shards by FSDP2 only, so the data-parallel size is the world size and the
tensor-parallel size 1.  ``TwinFlowModule.configure_model`` shards the network on the mesh.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.strategies import ModelParallelStrategy


class FSDP2Strategy(ModelParallelStrategy):
    """FSDP2 over all ranks (``process_group_backend: gloo`` for CPU ranks)."""

    def __init__(self, process_group_backend: str | None = None, **kwargs: Any) -> None:
        super().__init__(data_parallel_size=1, tensor_parallel_size=1,
                         process_group_backend=process_group_backend, **kwargs)

    def setup_environment(self) -> None:
        self._data_parallel_size = self.num_nodes * self.num_processes
        self._tensor_parallel_size = 1
        super().setup_environment()
