"""Checks of a fit's values that no constructor makes, run before any work (one line each).

``check_values``: step counts, ``--ckpt_path`` (read weights-only and memory-mapped, so a
missing, truncated or foreign file is refused without reading its tensors), and a trainer or
text conditioner that names a GPU on a machine without one (``check_cuda_setting``);
``check_optimizer``: the optimizer factory on a dummy parameter (a bad lr or beta);
``first_mismatch``: the line worth showing from torch's list of state-dict mismatches.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def writable(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried: permission bits do not bind root,
    read-only mounts and quotas do)."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".twinflow-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


def ensure_writable_folder(folder: Path, option: str) -> None:
    """Create ``folder`` and try a file in it, or exit with one line naming ``option``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SystemExit(f"error: {option} {folder} cannot be created ({err.strerror}); give a "
                         "writable folder") from None
    if not writable(folder):
        raise SystemExit(f"error: {option} {folder} is not writable; give a writable folder")


def check_values(cfg, subcommand: str | None) -> None:
    """Values no constructor checks, refused before any work: step counts and --ckpt_path."""
    if subcommand == "fit":
        steps = cfg.trainer.get("max_steps")
        if steps is not None and (steps == 0 or steps < -1):
            raise SystemExit(f"error: trainer.max_steps={steps}: give a number of steps >= 1 (a "
                             "fit of no steps would export an untrained model)")
        if cfg.get("model", {}).get("lr_warmdown") and (steps is None or steps < 1):
            raise SystemExit("error: model.lr_warmdown needs trainer.max_steps (the warm-down "
                             "ends at the last step); set --trainer.max_steps")
    ckpt = cfg.get("ckpt_path")
    if subcommand in ("fit", "validate", "test", "predict") and ckpt:
        check_ckpt_path(ckpt)
    accelerator = cfg.trainer.get("accelerator")
    check_cuda_setting(accelerator, "trainer.accelerator", "--trainer.accelerator cpu (and a "
                       "CPU strategy, e.g. --trainer configs/trainer/deepspeed_zero3_cpu.yaml, "
                       "or a tiny experiment under experiments/tiny/)")
    if subcommand in ("fit", "validate", "test", "predict"):
        # The conditioner encodes new prompts in the sample-grid callbacks, mid-run.
        device = _nested(cfg, "model", "conditioner", "init_args", "device")
        check_cuda_setting(device, "model.conditioner.init_args.device",
                           "--model.conditioner.init_args.device cpu")


def _nested(cfg: object, *keys: str) -> object:
    """``cfg[k1][k2]...``, or ``None`` where a level is missing or not a mapping (a class
    path given as a plain string, say)."""
    for key in keys:
        if not hasattr(cfg, "get"):
            return None
        cfg = cfg.get(key)
    return cfg


def check_cuda_setting(value: object, option: str, fix: str) -> None:
    """A setting that names a CUDA device (``gpu``, ``cuda``, ``cuda:1``) on a machine without
    one is one line saying what to change (Lightning: "No supported gpu backend found!", torch:
    "Torch not compiled with CUDA enabled", both tracebacks, the second mid-run)."""
    if value is None or not (str(value) == "gpu" or str(value).startswith("cuda")):
        return
    # Lightning's count (NVML where it can): unlike torch.cuda.is_available(), it leaves CUDA
    # uninitialised, so a fork-based launch after this check still works.
    from lightning.fabric.accelerators.cuda import num_cuda_devices

    if num_cuda_devices() < 1:
        raise SystemExit(f"error: {option}={value} but this machine has no CUDA GPU; run on a "
                         f"GPU machine, or give {fix}")


def ckpt_path_in(args: list[str] | None) -> str | None:
    """The ``--ckpt_path`` of a command line (LightningCLI reads the file while parsing)."""
    args = list(args or [])
    for i, arg in enumerate(args):
        if arg == "--ckpt_path" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--ckpt_path="):
            return arg.split("=", 1)[1]
    return None


def check_ckpt_path(ckpt: str) -> None:
    """A missing, truncated or foreign ``--ckpt_path`` is one line (read weights-only and
    memory-mapped: the tensors are not read)."""
    if ckpt in ("last", "best", "hpc", "registry", "null", "None"):
        return
    from twinflow.sharded_checkpoint import is_sharded_checkpoint
    from twinflow.weights import CheckpointError, read_checkpoint

    path = Path(ckpt)
    if path.is_dir():
        if not is_sharded_checkpoint(path):
            raise SystemExit(f"error: --ckpt_path {path} is a folder but not a sharded "
                             "checkpoint; give a .ckpt file (e.g. <run>/checkpoints/last.ckpt)")
        return
    try:
        read_checkpoint(path, mmap=True)
    except CheckpointError as err:
        raise SystemExit(f"error: --ckpt_path: {err}") from None


def check_optimizer(model) -> None:
    """The optimizer factory on a dummy parameter: a bad lr or beta is one line now, not a
    traceback after the network is built."""
    import torch

    try:
        model.optimizer_factory([torch.nn.Parameter(torch.zeros(1))])
    except (ValueError, TypeError) as err:
        text = " ".join(str(err).split())
        raise SystemExit(f"error: invalid config: model.optimizer: {text}") from None


def first_mismatch(message: str) -> str:
    for line in message.splitlines():
        if "size mismatch" in line or "Missing key" in line or "Unexpected key" in line:
            return line.strip().rstrip(".")[:200]
    return message.splitlines()[0][:200]
