"""Test-only hooks that hold a fit at a chosen moment, so a test can kill it exactly there.

``PauseAtStep`` (a callback) stops inside a training step (after the backward pass, before the
optimizer step) once ``global_step`` reaches ``step``: it writes ``path`` and sleeps until
``release`` exists (or forever).  Run as ``python -m tests.fault_probe <args of twinflow.cli>``
with ``TWINFLOW_TEST_PAUSE_SAVE=<marker>:<step>:<name>`` set, the fit stops in the middle of
writing the first checkpoint of step >= ``step`` into a file whose name contains ``<name>``:
half of its bytes are in that file when ``<marker>`` appears (holding the step and the file
written), and the process sleeps there.  Nothing here ships in the library.
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import lightning as L


def _hold(marker: Path, text: str, release: Path | None = None) -> None:
    marker.write_text(text)
    while release is None or not release.exists():
        time.sleep(0.05)


class PauseAtStep(L.Callback):
    """Mid-step pause: ``path`` written, then sleep until ``release`` exists."""

    def __init__(self, path: str, step: int, release: str | None = None) -> None:
        self.path, self.step = Path(path), step
        self.release = Path(release) if release else None

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if trainer.global_step >= self.step and not self.path.exists():
            _hold(self.path, str(trainer.global_step), self.release)


def _pause_inside_checkpoint_writes(marker: Path, step: int, name: str) -> None:
    import torch

    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        if (isinstance(obj, dict) and obj.get("global_step", -1) >= step
                and name in str(getattr(f, "name", "")) and not marker.exists()):
            buffer = io.BytesIO()
            real_save(obj, buffer, *args, **kwargs)
            data = buffer.getvalue()
            f.write(data[: len(data) // 2])
            f.flush()
            os.fsync(f.fileno())
            _hold(marker, f"{obj['global_step']} {f.name}")
        return real_save(obj, f, *args, **kwargs)

    torch.save = save


if __name__ == "__main__":
    spec = os.environ.get("TWINFLOW_TEST_PAUSE_SAVE")
    if spec:
        where, at, name = spec.rsplit(":", 2)
        _pause_inside_checkpoint_writes(Path(where), int(at), name)
    from twinflow.cli import main

    sys.argv = ["twinflow", *sys.argv[1:]]
    main()
