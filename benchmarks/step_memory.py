"""Peak memory and network calls of one training step, for ``step_cost.py``.

A step's peak is its transient peak above the pre-step level (CUDA:
``max_memory_allocated``; CPU: the process's peak RSS, reset through
``/proc/self/clear_refs``) plus the module's persistent bytes (weights, optimizer state, EMA
copy).  RSS follows the live tensors only when glibc returns freed memory to the system at
once (a fixed mmap threshold); under that setting each step faults all its memory in afresh,
which a training process does not: CPU steps timed under it were 25-35% slower on a 2-core
Intel Xeon (11 M page faults in a 37-s run, against 0.3 M for 150 steps of a real fit).  So on
the CPU the memory pass runs in a child process with that setting from its start
(:func:`cpu_footprints`), and the times come from the parent, which keeps glibc's default.
"""

from __future__ import annotations

import ctypes
import json
import platform
import subprocess
import sys
from pathlib import Path

import torch

MB = 2**20
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def return_freed_memory() -> None:
    """Make glibc give freed blocks above 256 KiB back to the system (so RSS tracks tensors)."""
    if platform.system() == "Linux":
        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, 256 * 1024)


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def step_peak_mb(cfg, batch) -> float:
    """Peak memory of one step of ``cfg`` (a ``step_cost.Config``) above the level before it,
    in MiB."""
    if cfg.device.type == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        cfg.step(batch, 0)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / MB
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    before = rss_mb("VmRSS")
    cfg.step(batch, 0)
    return rss_mb("VmHWM") - before


def footprint(configs: list) -> None:
    """Set ``cfg.memory`` of each configuration: network calls, forward-equivalents per row
    (a grad call's rows count three times: backward = 2 forwards) and the peak memory of one
    step (after at least one warm-up step)."""
    for cfg in configs:
        cfg.calls = []
        peak = step_peak_mb(cfg, cfg.batch)  # also counts the calls of this step
        calls, cfg.calls = cfg.calls, None
        cfg.memory = {
            "step_peak_mb": peak, "persistent_mb": cfg.persistent_bytes() / MB,
            "fwd_equiv_per_row": sum(n * (3 if grad else 1) for n, grad in calls)
            / len(cfg.batch),
            "calls_grad": sum(g for _, g in calls), "calls_nograd": sum(not g for _, g in calls)}


def cpu_footprints(script: str, argv: list[str], timed: list[tuple[str, list]]) -> None:
    """Fill ``cfg.memory`` of every timed configuration from a child process: ``script``
    rerun with ``argv`` plus ``--footprint <plan>``, which prints one JSON list per planned
    (network, batch) of ``{"method", "ema", **memory}``."""
    plan = [[name, len(configs[0].batch)] for name, configs in timed]
    child = subprocess.run([sys.executable, script, *argv, "--footprint", json.dumps(plan)],
                           capture_output=True, text=True)
    if child.returncode != 0:
        raise SystemExit(f"error: the memory pass failed:\n{child.stderr[-2000:]}")
    rows = json.loads(child.stdout.strip().splitlines()[-1])
    for (_, configs), per in zip(timed, rows):
        found = {(r.pop("method"), r.pop("ema")): r for r in per}
        for cfg in configs:
            cfg.memory = found[cfg.method, cfg.ema]


__all__ = ["cpu_footprints", "footprint", "return_freed_memory", "rss_mb", "step_peak_mb"]
