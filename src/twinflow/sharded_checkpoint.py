"""Reading sharded checkpoints: DeepSpeed ZeRO folders and FSDP2 distributed checkpoints.

Lightning saves a sharded run's checkpoint as a folder:

* DeepSpeed: ``last.ckpt/`` holding ``latest`` and ``checkpoint/`` with every rank's partition;
* FSDP2 (``ModelParallelStrategy``): a ``torch.distributed.checkpoint`` folder (``.metadata``,
  one ``.distcp`` file per rank) plus ``meta.pt`` with the non-tensor state.

:func:`read_sharded_checkpoint` consolidates either on one CPU into the dict a plain
``.ckpt`` holds (``state_dict``, plus the ``twinflow`` entry with the model config), so
``twinflow export``, ``sample`` and ``make eval`` read it like any checkpoint.  DeepSpeed's
files are pickles: read only checkpoints you wrote (``meta.pt`` is read weights-only).
"""

from __future__ import annotations

from pathlib import Path

import torch

from twinflow.weights import CheckpointError


def is_deepspeed_checkpoint(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and (path / "latest").is_file() and (path / "checkpoint").is_dir()


def is_distributed_checkpoint(path: str | Path) -> bool:
    """A ``torch.distributed.checkpoint`` folder as Lightning's FSDP2 strategy writes it."""
    path = Path(path)
    return path.is_dir() and (path / ".metadata").is_file() and (path / "meta.pt").is_file()


def is_sharded_checkpoint(path: str | Path) -> bool:
    return is_deepspeed_checkpoint(path) or is_distributed_checkpoint(path)


def read_sharded_checkpoint(path: str | Path) -> dict:
    """``{"state_dict": tensors, "twinflow": {...}, ...}`` from a sharded checkpoint folder."""
    path = Path(path)
    if is_distributed_checkpoint(path):
        return read_distributed_checkpoint(path)
    try:
        from deepspeed.utils.zero_to_fp32 import (
            get_fp32_state_dict_from_zero_checkpoint,
            get_model_state_file,
            get_optim_files,
        )
    except ImportError:
        raise CheckpointError(f"{path} is a DeepSpeed checkpoint: install the deepspeed extra "
                              '(pip install -e ".[deepspeed]") to read it') from None
    state = get_fp32_state_dict_from_zero_checkpoint(str(path))
    tag_dir = path / "checkpoint"
    optim = torch.load(get_optim_files(str(tag_dir))[0], map_location="cpu", weights_only=False)
    stage = optim["optimizer_state_dict"]["zero_stage"]
    client = torch.load(get_model_state_file(str(tag_dir), stage), map_location="cpu",
                        weights_only=False)
    out = {k: v for k, v in client.items() if k not in ("module", "optimizer", "lr_scheduler")}
    out["state_dict"] = {k.removeprefix("_forward_module."): v for k, v in state.items()}
    return out


def read_distributed_checkpoint(path: Path) -> dict:
    """Consolidate an FSDP2 checkpoint folder in this process (no process group needed).

    Only the ``state_dict`` entry is read (the optimizer state, twice the weights' size,
    stays on disk); each tensor arrives whole, as the training ranks' shards put together.
    """
    from torch.distributed.checkpoint import FileSystemReader
    from torch.distributed.checkpoint.default_planner import _EmptyStateDictLoadPlanner
    from torch.distributed.checkpoint.state_dict_loader import _load_state_dict

    try:
        out = torch.load(path / "meta.pt", map_location="cpu", weights_only=True)
        state: dict = {}
        _load_state_dict(state, storage_reader=FileSystemReader(str(path)),
                         planner=_EmptyStateDictLoadPlanner(keys={"state_dict"}), no_dist=True)
    except Exception as err:  # a truncated or foreign folder fails in many ways
        raise CheckpointError(
            f"cannot read the distributed checkpoint {path} ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else 'no detail'}); give a complete "
            "checkpoint folder written by an FSDP2 run") from None
    if "state_dict" not in state:
        raise CheckpointError(f"{path} holds no state_dict: it is not a Lightning checkpoint")
    out["state_dict"] = state["state_dict"]
    return out
