"""``mlflow ui`` for one store on a free loopback port, as a context manager.

    with MlflowServer("sqlite:////abs/runs/mlflow.db") as server:
        server.url            # http://127.0.0.1:<port>
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from twinflow.tracking.browser import stop_group


class ServerError(RuntimeError):
    """``mlflow ui`` did not come up (one line with the end of its log)."""


def free_port() -> int:
    """A loopback port nobody listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServer:
    """``python -m mlflow ui --backend-store-uri <uri>`` bound to 127.0.0.1; stopped on exit."""

    def __init__(self, uri: str, port: int = 0, workers: int = 2, timeout: float = 180) -> None:
        self.uri, self.port, self.workers, self.timeout = uri, port or free_port(), workers, timeout
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen | None = None
        self._log = Path(tempfile.mkstemp(prefix="twinflow-mlflow-ui-", suffix=".log")[1])

    def __enter__(self) -> MlflowServer:
        cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", self.uri,
               "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        with open(self._log, "wb") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_healthy()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_healthy(self) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerError(f"mlflow ui exited ({self._proc.returncode}): {self.log_tail()}")
            try:
                with opener.open(f"{self.url}/health", timeout=5) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise ServerError(f"mlflow ui did not answer on {self.url} within {self.timeout:.0f} s: "
                          f"{self.log_tail()}")

    def log_tail(self) -> str:
        lines = [ln for ln in self._log.read_text(errors="replace").splitlines() if ln.strip()]
        return lines[-1][:300] if lines else "(no output)"

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            stop_group(self._proc)
            self._proc = None
        self._log.unlink(missing_ok=True)


__all__ = ["MlflowServer", "ServerError", "free_port"]
