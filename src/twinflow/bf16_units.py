"""Whether a device multiplies bf16 in hardware, and the run's bf16 decision (plain torch).

On a CPU with AVX512-BF16 or AMX, bf16 autocast roughly halves the cost of convolution-heavy
networks; on a CPU without bf16 units the same autocast is emulated and several times
*slower*. Configs therefore say "bf16 where native" (``NativeBF16Precision``, guidance
``precision: auto``) and this module decides, once per device type.

``TWINFLOW_BF16=0`` forces fp32 and ``TWINFLOW_BF16=1`` forces bf16 (e.g. to compare).
"""

from __future__ import annotations

import functools
import os

import torch

ENV = "TWINFLOW_BF16"


@functools.cache
def has_native_bf16(device: str) -> bool:
    """True where ``device`` ("cpu" or "cuda") multiplies bf16 in hardware."""
    if device == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device == "cpu":
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    return False


def forced() -> bool | None:
    """``$TWINFLOW_BF16`` as a decision (``None``: unset); any other value is an error."""
    value = os.environ.get(ENV, "").strip()
    if value in ("0", "1"):
        return value == "1"
    if value:
        raise ValueError(f"{ENV}={value!r}: use 0 (fp32), 1 (bf16) or leave it unset (auto)")
    return None


def bf16_enabled(device: str) -> bool:
    """The decision: ``$TWINFLOW_BF16`` (0 or 1) when set, else :func:`has_native_bf16`."""
    decision = forced()
    return has_native_bf16(device) if decision is None else decision


__all__ = ["ENV", "bf16_enabled", "forced", "has_native_bf16"]
