"""Weights into a model whose parameters DeepSpeed ZeRO-3 partitions at construction.

Under ``deepspeed.zero.Init`` every parameter is split over the ranks as its module is built,
so no rank ever holds the whole model; diffusers' ``from_pretrained`` cannot run there (it
builds on the meta device).  :func:`stream_safetensors` fills such a model from a diffusers
checkpoint folder one module at a time: that module's parameters are gathered, rank 0 copies
its tensors from the (memory-mapped) safetensors files, and DeepSpeed re-partitions them on
leaving the context.  Outside ZeRO-3 the same functions act on plain tensors.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch
from torch import nn


def zero_init_active() -> bool:
    """Whether modules built now are partitioned (inside ``deepspeed.zero.Init``)."""
    pp = sys.modules.get("deepspeed.runtime.zero.partition_parameters")
    return bool(pp is not None and getattr(pp, "zero_init_context", 0) > 0)


def is_partitioned(p: torch.Tensor) -> bool:
    return hasattr(p, "ds_id")


def zero3_partitioned(params: Iterable[torch.Tensor]) -> bool:
    """Whether any of ``params`` (a module's ``parameters()``) is split by ZeRO-3."""
    return any(is_partitioned(p) for p in params)


@contextlib.contextmanager
def gathered(params: list[nn.Parameter]) -> Iterator[bool]:
    """Full ``params`` inside; yields whether this rank's writes are kept (rank 0 under
    ZeRO-3, every rank otherwise)."""
    zero = [p for p in params if is_partitioned(p)]
    if not zero:
        yield True
        return
    import deepspeed
    import torch.distributed as dist

    with deepspeed.zero.GatheredParameters(zero, modifier_rank=0):
        yield dist.get_rank() == 0


@torch.no_grad()
def copy_weights(src: nn.Module, dst: nn.Module) -> None:
    """``dst``'s parameters and buffers := ``src``'s (same structure), partitioned or not."""
    with gathered([*src.parameters(), *dst.parameters()]) as writer:
        if writer:
            for a, b in zip(src.parameters(), dst.parameters(), strict=True):
                b.data.copy_(a.data)
    for a, b in zip(src.buffers(), dst.buffers(), strict=True):
        b.copy_(a)


def safetensors_files(folder: Path) -> list[Path]:
    """The weight files of a diffusers component folder (one file or an indexed shard set)."""
    index = sorted(folder.glob("*.safetensors.index.json"))
    if index:
        names = sorted(set(json.loads(index[0].read_text())["weight_map"].values()))
        return [folder / n for n in names]
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{folder} has no .safetensors weights (stream loading needs "
                                "safetensors; convert .bin checkpoints first)")
    return files


class _Source:
    """Tensors by name, with shapes readable without loading them."""

    def __init__(self, files: list[Path] | None = None,
                 state: dict[str, torch.Tensor] | None = None) -> None:
        from safetensors import safe_open

        self.state = state
        handles = [safe_open(str(f), "pt") for f in files or []]
        self.where = {k: h for h in handles for k in h.keys()}

    def keys(self) -> set[str]:
        return set(self.state) if self.state is not None else set(self.where)

    def shape(self, key: str) -> tuple[int, ...]:
        if self.state is not None:
            return tuple(self.state[key].shape)
        return tuple(self.where[key].get_slice(key).get_shape())

    def get(self, key: str) -> torch.Tensor:
        return self.state[key] if self.state is not None else self.where[key].get_tensor(key)


@torch.no_grad()
def _fill(model: nn.Module, source: _Source, what: str, may_miss: tuple[str, ...]) -> list[str]:
    names_in = source.keys()
    used, missing = set(), []
    for prefix, module in model.named_modules():
        params = dict(module.named_parameters(recurse=False))
        names = {n: f"{prefix}.{n}" if prefix else n for n in params}
        missing += [full for full in names.values() if full not in names_in]
        for n, p in params.items():  # on every rank, from metadata: all ranks fail together
            key, shape = names[n], tuple(getattr(p, "ds_shape", p.shape))
            if key in names_in and source.shape(key) != shape:
                raise ValueError(f"{key}: shape {source.shape(key)} in {what} != model "
                                 f"shape {shape}")
        with gathered(list(params.values())) as writer:
            for n, p in params.items():
                key = names[n]
                if key in names_in:
                    if writer:
                        p.data.copy_(source.get(key))
                    used.add(key)
        for n, b in module.named_buffers(recurse=False):
            key = f"{prefix}.{n}" if prefix else n
            if key in names_in:
                b.copy_(source.get(key))
                used.add(key)
    bad = [k for k in missing if not any(m in k for m in may_miss)]
    extra = sorted(names_in - used)
    if bad or extra:
        raise ValueError(f"{what} does not fit {type(model).__name__}: {len(bad)} missing "
                         f"(e.g. {bad[:3]}), {len(extra)} unexpected (e.g. {extra[:3]})")
    return missing


def stream_safetensors(model: nn.Module, folder: str | Path,
                       may_miss: tuple[str, ...] = ()) -> list[str]:
    """Copy ``folder``'s safetensors into ``model`` one module at a time; returns the names of
    parameters the files lack (each must contain one of ``may_miss``).

    Raises:
        ValueError: a parameter is missing that may not be, a shape differs, or the files
            hold tensors the model has no place for.
    """
    source = _Source(files=safetensors_files(Path(folder)))
    return _fill(model, source, f"checkpoint {folder}", may_miss)


def load_state_partitioned(model: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """``model.load_state_dict(state)`` (strict) for a model ZeRO-3 has partitioned."""
    _fill(model, _Source(state=state), what, ())
