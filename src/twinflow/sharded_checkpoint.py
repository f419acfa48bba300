"""Reading DeepSpeed ZeRO checkpoints (a folder per checkpoint, one shard per rank).

Lightning saves a DeepSpeed run's checkpoint as a folder (``last.ckpt/`` holding ``latest``
and ``checkpoint/`` with every rank's partition).  :func:`read_sharded_checkpoint`
consolidates it on one CPU into the dict a plain ``.ckpt`` holds (``state_dict`` in fp32,
plus the ``twinflow`` entry with the model config), so ``twinflow export``, ``sample`` and
``make eval`` read it like any checkpoint.  DeepSpeed's files are pickles: read only
checkpoints you wrote.
"""

from __future__ import annotations

from pathlib import Path

import torch

from twinflow.weights import CheckpointError


def is_sharded_checkpoint(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and (path / "latest").is_file() and (path / "checkpoint").is_dir()


def read_sharded_checkpoint(path: str | Path) -> dict:
    """``{"state_dict": fp32 tensors, "twinflow": {...}, ...}`` from a ZeRO checkpoint folder."""
    path = Path(path)
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
