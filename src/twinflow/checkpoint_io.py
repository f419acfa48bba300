"""Single-file checkpoints written beside their target and renamed into place.

Lightning's own ``TorchCheckpointIO`` serialises into memory, writes a temporary file under
``$TMPDIR`` and moves it to the target.  When ``$TMPDIR`` and the run folder are on different
filesystems (a node-local ``/tmp``, runs on a network disk) that move is a copy, and a kill
during it leaves a truncated ``last.ckpt``.  ``AtomicCheckpointIO`` writes the temporary file
in the target's own folder (``.<name>.<host>.<pid>.<thread>.tmp``), syncs it to disk and
renames it over the target (``os.replace``: atomic on one filesystem), so the target is always
either the previous complete checkpoint or the new complete one.  The file's mode follows the
umask (``0o666 & ~umask``), like any file the process creates.  Temporary files of processes
that died (kill -9 mid-write) are removed at the next save into the folder.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from twinflow.data.latent_cache import process_alive, temp_name


def _remove_dead_writers(target: Path) -> None:
    """Delete ``.<target>.<host>.<pid>.<thread>.tmp`` files left by dead processes of this host."""
    host = socket.gethostname()
    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        who = tmp.name[len(target.name) + 2:-len(".tmp")].rsplit(".", 2)
        if len(who) == 3 and who[0] == host and who[1].isdigit() and not process_alive(
                int(who[1])):
            tmp.unlink(missing_ok=True)


def write_atomically(checkpoint: dict[str, Any], path: str | Path) -> Path:
    """``torch.save(checkpoint)`` to ``path`` via a synced temporary file beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_writers(path)
    tmp = temp_name(path)
    try:
        with open(tmp, "wb") as f:  # open() applies the umask (mkstemp would make 0600)
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # the rename itself survives a power cut only once the folder is synced
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return path


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose ``save_checkpoint`` is :func:`write_atomically`."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any,
                        storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO.save_checkpoint takes no storage_options")
        write_atomically(checkpoint, path)


def use_atomic_checkpoints(trainer: Any) -> bool:
    """Give ``trainer``'s strategy :class:`AtomicCheckpointIO` where it saves single files
    through Lightning's plain ``TorchCheckpointIO`` (one device, DDP); sharded strategies
    (DeepSpeed, FSDP2) keep their own writers.  Returns whether it was installed."""
    strategy = trainer.strategy
    if getattr(strategy, "zero_stage_3", False) or type(strategy).__name__ not in (
            "SingleDeviceStrategy", "DDPStrategy"):
        return False
    if type(strategy.checkpoint_io) is not TorchCheckpointIO:
        return False
    strategy.checkpoint_io = AtomicCheckpointIO()
    return True
