"""Where the benchmark prompt files live."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "TWINFLOW_BENCHMARKS"


def repo_root() -> Path:
    """The repository root (the folder that holds `evaluation/`)."""
    return Path(__file__).resolve().parents[1]


def default_benchmark_root() -> Path:
    """`$TWINFLOW_BENCHMARKS` when set, else `<repo>/../shared/benchmarks`.

    The data is kept outside the repository on purpose (licences, size), so readers take a path
    and fall back to this one; nothing is checked here, readers raise on a missing file.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return repo_root().parent / "shared" / "benchmarks"


def resolve_root(root: str | os.PathLike[str] | None) -> Path:
    """An explicit `root` when given, else `default_benchmark_root()`."""
    return Path(root) if root is not None else default_benchmark_root()
