"""Whether bf16 pays on a device, and the run's bf16 decision (plain torch).

On a CPU whose bf16 dot products run at twice the fp32 rate (AVX512-BF16 on AMD Zen 4, for
one), bf16 autocast cuts the digits U-Net's step by about 1.6x; on a CPU without bf16 units
the same autocast is emulated and several times *slower*. The instruction flags alone do not
decide it: an Intel Xeon that reports AVX512-BF16 (no AMX exposed) ran the same U-Net step
1.3x *slower* in bf16 than in fp32. So on a CPU with the flags the decision is measured: a
convolution block's forward and backward in fp32 and under bf16 autocast, interleaved, best of
several; bf16 is used when it is at least :data:`MIN_SPEEDUP` times faster. The measurement
(under a second) is made once per machine, torch version and thread count, and kept in
``$TWINFLOW_CACHE/precision/`` under a file lock, so every later run on the machine, and every
rank of a multi-process run, takes the same decision.

``TWINFLOW_BF16=0`` forces fp32 and ``TWINFLOW_BF16=1`` forces bf16 (e.g. to compare).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import platform
import time
from pathlib import Path

import torch

from twinflow.cache_root import default_cache_dir

ENV = "TWINFLOW_BF16"
MIN_SPEEDUP = 1.15  # fp32 time / bf16 time; the margin keeps timing noise from flipping it

log = logging.getLogger(__name__)


@functools.cache
def has_native_bf16(device: str) -> bool:
    """True where ``device`` ("cpu" or "cuda") reports bf16 arithmetic in hardware."""
    if device == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device == "cpu":
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    return False


def measure_cpu_bf16_speedup(batch: int = 64, channels: int = 64, size: int = 14,
                             repeats: int = 7) -> float:
    """fp32 time / bf16-autocast time of conv-norm-SiLU-conv forward + backward on
    ``(batch, channels, size, size)``: the best of ``repeats`` interleaved timings of each."""
    best = {False: float("inf"), True: float("inf")}
    # the first caller may be sampling (under no_grad or inference_mode)
    with torch.inference_mode(False), torch.enable_grad():
        gen = torch.Generator().manual_seed(0)
        block = torch.nn.Sequential(
            torch.nn.Conv2d(channels, channels, 3, padding=1), torch.nn.GroupNorm(8, channels),
            torch.nn.SiLU(), torch.nn.Conv2d(channels, channels, 3, padding=1))
        x = torch.randn(batch, channels, size, size, generator=gen)
        for i in range(repeats + 2):  # two warm-up rounds
            _time_round(block, x, best, record=i >= 2)
    return best[False] / best[True]


def _time_round(block: torch.nn.Module, x: torch.Tensor, best: dict, record: bool) -> None:
    """One fp32 and one bf16-autocast forward + backward of ``block``; keeps the best."""
    for bf16 in (False, True):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = block(x)
        out.float().square().mean().backward()
        if record:
            best[bf16] = min(best[bf16], time.perf_counter() - start)


def _machine() -> dict:
    """What the measurement depends on: the CPU model, torch and the thread count."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpu": model, "torch": torch.__version__, "threads": torch.get_num_threads()}


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock on ``path`` (a no-op where ``fcntl`` does not exist)."""
    try:
        import fcntl
    except ImportError:  # Windows: ranks may measure twice; the margin keeps them agreeing
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@functools.cache
def cpu_bf16_speedup() -> float:
    """This machine's measured bf16 speedup (see :func:`measure_cpu_bf16_speedup`), read from
    ``$TWINFLOW_CACHE/precision/`` or measured once and written there."""
    machine = _machine()
    key = hashlib.sha256(json.dumps(machine, sort_keys=True).encode()).hexdigest()[:16]
    folder = default_cache_dir() / "precision"
    path, speedup = folder / f"cpu-bf16-{key}.json", None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder / ".lock"):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                return float(json.loads(path.read_text())["speedup"])
            speedup = measure_cpu_bf16_speedup()
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({**machine, "speedup": speedup}, indent=1) + "\n")
            os.replace(tmp, path)  # readers never see half a file
            return speedup
    except OSError as err:
        log.warning("precision: cannot use %s (%s); measuring bf16 for this process only",
                    folder, err.strerror or err)
        return speedup if speedup is not None else measure_cpu_bf16_speedup()


def bf16_pays(device: str) -> bool:
    """bf16 on ``device``: where it has bf16 units, and on a CPU only where bf16 measured at
    least :data:`MIN_SPEEDUP` times faster than fp32."""
    if device == "cpu" and has_native_bf16("cpu"):
        return cpu_bf16_speedup() >= MIN_SPEEDUP
    return has_native_bf16(device)


def forced() -> bool | None:
    """``$TWINFLOW_BF16`` as a decision (``None``: unset); any other value is an error."""
    value = os.environ.get(ENV, "").strip()
    if value in ("0", "1"):
        return value == "1"
    if value:
        raise ValueError(f"{ENV}={value!r}: use 0 (fp32), 1 (bf16) or leave it unset (auto)")
    return None


def bf16_enabled(device: str) -> bool:
    """The decision: ``$TWINFLOW_BF16`` (0 or 1) when set, else :func:`bf16_pays`."""
    decision = forced()
    return bf16_pays(device) if decision is None else decision


PRECISIONS = ("fp32", "bf16", "auto")


def resolve_precision(setting: str, device: str) -> str:
    """``"bf16"`` or ``"fp32"`` for a ``fp32`` / ``bf16`` / ``auto`` setting on ``device``
    (``auto``: :func:`bf16_enabled`); the guidance forward and sampling both decide here."""
    if setting not in PRECISIONS:
        raise ValueError(f"precision {setting!r}: use one of {', '.join(PRECISIONS)}")
    if setting != "auto":
        return setting
    return "bf16" if bf16_enabled(device) else "fp32"


def reason(device: str) -> str:
    """Why :func:`bf16_enabled` decided as it did, for the run's log."""
    if forced() is not None:
        return f"{ENV} set"
    if not has_native_bf16(device):
        return "no bf16 units"
    if device != "cpu":
        return "bf16 units found"
    return f"bf16 measured {cpu_bf16_speedup():.2f}x fp32 here; used from {MIN_SPEEDUP}x"


__all__ = ["ENV", "MIN_SPEEDUP", "PRECISIONS", "bf16_enabled", "bf16_pays", "cpu_bf16_speedup",
           "forced", "has_native_bf16", "measure_cpu_bf16_speedup", "reason", "resolve_precision"]
