"""The run-folder rule: a fit never silently replaces another run's results.

``lightning fit`` into a ``trainer.default_root_dir`` that already holds a run (an
``export/`` folder or checkpoints) refuses with one line, unless the fit resumes that run
(``--ckpt_path``) or ``TWINFLOW_OVERWRITE=1`` says to replace it.  While a fit uses a folder it
holds ``run.lock`` (pid and host); a second fit into the same folder refuses, and a lock whose
process has died is taken over.  Only the launching process (global rank 0) checks and locks:
the other ranks of a multi-process fit run in the same folder by design.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
from pathlib import Path

from twinflow.data.latent_cache import process_alive

LOCK_NAME = "run.lock"


def is_launching_rank() -> bool:
    """Whether this process is global rank 0 (or not part of a multi-process launch)."""
    for var in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var]) == 0
    return True


def holds_run(run_dir: Path) -> list[str]:
    """What in ``run_dir`` belongs to an earlier run: ``export/`` and ``checkpoints/*.ckpt``."""
    found = []
    if (run_dir / "export").exists():
        found.append("export/")
    ckpts = sorted((run_dir / "checkpoints").glob("*.ckpt")) if (run_dir / "checkpoints").is_dir() \
        else []
    if ckpts:
        found.append(f"checkpoints/{ckpts[0].name}" + (f" (+{len(ckpts) - 1})" if len(ckpts) > 1
                                                       else ""))
    return found


def check_run_folder(run_dir: Path, resuming: bool) -> None:
    """Refuse (``SystemExit`` with one line) to start a new fit over an earlier run's results."""
    if resuming or os.environ.get("TWINFLOW_OVERWRITE") == "1":
        return
    found = holds_run(run_dir)
    if found:
        raise SystemExit(
            f"error: run folder {run_dir} already holds a run ({', '.join(found)}); resume it "
            f"with --ckpt_path {run_dir / 'checkpoints' / 'last.ckpt'}, give another "
            "--trainer.default_root_dir, or set TWINFLOW_OVERWRITE=1 to replace it")


def lock_run_folder(run_dir: Path) -> None:
    """Take ``run_dir/run.lock`` for this process (released at exit); refuse if another
    live process on this host holds it.  Re-entrant within one process (the demo's fits)."""
    lock = run_dir / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                held = json.loads(lock.read_text() or "{}")
            except (OSError, ValueError):
                held = {}
            if held.get("pid") == me["pid"] and held.get("host") == me["host"]:
                return
            same_host = held.get("host") == me["host"]
            if same_host and isinstance(held.get("pid"), int) and not process_alive(held["pid"]):
                lock.unlink(missing_ok=True)  # stale: its process died without releasing it
                continue
            raise SystemExit(
                f"error: run folder {run_dir} is in use by another fit (pid {held.get('pid')} "
                f"on {held.get('host')}, {lock}); wait for it or give another "
                "--trainer.default_root_dir") from None
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        atexit.register(_release, lock, me["pid"])
        return
    raise SystemExit(f"error: could not take the lock {lock}; remove it if no fit runs there")


def _release(lock: Path, pid: int) -> None:
    try:
        if json.loads(lock.read_text()).get("pid") == pid:
            lock.unlink()
    except (OSError, ValueError):
        pass
