"""The project's one cache root: ``$TWINFLOW_CACHE``, else ``~/.cache/twinflow``.

Prompt embeddings (``text/``), the digit judges and the pixel-FD basis, and the measured bf16
decisions (``precision/``) live in folders under it.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$TWINFLOW_CACHE`` when set, else ``~/.cache/twinflow`` (not created here)."""
    return Path(os.environ.get("TWINFLOW_CACHE", Path.home() / ".cache" / "twinflow"))


__all__ = ["default_cache_dir"]
