"""File modes that follow the umask, for files made by writers that ignore it.

``open()`` creates files ``0o666 & ~umask`` (``0644`` under the usual ``022``), but
``tempfile.mkstemp``/``mkdtemp`` make ``0600``/``0700`` and safetensors' ``save_file`` makes
``0600`` whatever the umask: an export, a shared cache or a checkpoint written that way could
not be read by the rest of a group.  :func:`honour_umask` gives such a path the mode ``open()``
or ``mkdir()`` would have given it.
"""

from __future__ import annotations

import os
from pathlib import Path


def current_umask() -> int:
    """This process's umask (read from ``/proc`` where it can be, so no thread sees it change)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def honour_umask(path: str | Path, recursive: bool = False) -> None:
    """``chmod`` ``path`` (and, with ``recursive``, everything under it) to ``0o666 & ~umask``
    for files and ``0o777 & ~umask`` for folders."""
    path, mask = Path(path), current_umask()
    for item in (path, *(path.rglob("*") if recursive and path.is_dir() else ())):
        item.chmod((0o777 if item.is_dir() else 0o666) & ~mask)
