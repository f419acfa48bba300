"""A headless Chromium driven over the DevTools protocol: open a page, read it, screenshot it.

No driver package and no downloaded browser: the system's Chromium (``$CHROMIUM``, else
``chromium`` / ``chromium-browser`` / ``google-chrome`` on ``PATH``) is started with
``--remote-debugging-port=0``, and its one page is driven through the DevTools websocket with
``aiohttp`` (already installed: MLflow depends on it).

    with Browser(width=1400, height=900) as page:
        page.goto("http://127.0.0.1:5000/#/experiments/1")
        page.wait_for("document.body.innerText.includes('digits_fm')", timeout=60)
        page.screenshot(Path("runs.png"))
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

# Offline and quiet: without the background-networking flags Chromium tries to reach the internet.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserError(RuntimeError):
    """The browser could not be found, started or driven (one line)."""


def find_chromium() -> str | None:
    """``$CHROMIUM`` when set, else the first Chromium on ``PATH`` (``None`` when there is none)."""
    given = os.environ.get("CHROMIUM")
    if given:
        return given if os.access(given, os.X_OK) else None
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


def stop_group(proc: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM to the process group ``proc`` leads (started with ``start_new_session``), then
    SIGKILL after ``grace`` seconds: the browser's (or server's) helper processes stop too."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # helpers that outlived the leader
    except ProcessLookupError:
        pass


class Browser:
    """One headless Chromium page; a context manager that always stops the browser."""

    def __init__(self, width: int = 1400, height: int = 900, binary: str | None = None) -> None:
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise BrowserError("no Chromium found; install it (Debian: apt-get install "
                               "chromium) or set CHROMIUM=<path to the browser>")
        self.width, self.height = width, height
        self._loop = asyncio.new_event_loop()
        self._next_id = 0
        self._proc: subprocess.Popen | None = None
        self._profile = tempfile.mkdtemp(prefix="twinflow-chromium-")

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Browser:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            [self.binary, *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-port=0",
             f"--window-size={self.width},{self.height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise BrowserError(f"{self.binary} did not start (exit {self._proc.poll()}); "
                                   "run it with --headless by hand to see why")
            time.sleep(0.2)
        port = port_file.read_text().split()[0]
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        targets = json.loads(no_proxy.open(f"http://127.0.0.1:{port}/json/list", timeout=30).read())
        page = next(t for t in targets if t.get("type") == "page")
        self._run(self._connect(page["webSocketDebuggerUrl"]))
        self.resize(self.width, self.height)

    async def _connect(self, url: str) -> None:
        import aiohttp

        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(url, max_msg_size=0)

    def close(self) -> None:
        """Close the websocket and stop the browser (its whole process group)."""
        if getattr(self, "_session", None) is not None:
            self._run(self._session.close())
            self._session = None
        if self._proc is not None:
            stop_group(self._proc)
        self._proc = None
        if not self._loop.is_closed():
            self._loop.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    # -- protocol --------------------------------------------------------------------------
    def _run(self, coro: Any) -> Any:
        return self._loop.run_until_complete(coro)

    def send(self, method: str, timeout: float = 60, **params: Any) -> dict:
        """One DevTools command; returns its ``result`` (events in between are skipped)."""
        self._next_id += 1
        return self._run(asyncio.wait_for(self._call(self._next_id, method, params), timeout))

    async def _call(self, call_id: int, method: str, params: dict) -> dict:
        await self._ws.send_json({"id": call_id, "method": method, "params": params})
        while True:
            message = await self._ws.receive_json()
            if message.get("id") == call_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})

    # -- page ------------------------------------------------------------------------------
    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (promises are awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            text = result["exceptionDetails"].get("exception", {}).get("description", "")
            raise BrowserError(f"page script failed: {text.splitlines()[0] if text else '?'}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60, every: float = 0.5) -> bool:
        """Poll ``expression`` until it is truthy; ``False`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.evaluate(expression):
                    return True
            except BrowserError:
                pass  # the page is between documents
            time.sleep(every)
        return False

    def click(self, x: float, y: float) -> None:
        """A real left click at viewport point (``x``, ``y``) in CSS pixels."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=0 if kind == "mouseMoved" else 1)

    def type_into(self, selector: str, text: str) -> bool:
        """Focus the first element matching ``selector``, select its content and type
        ``text`` over it (a trusted insert, as React inputs need); ``False`` if absent."""
        found = self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                              " if (!e) return false; e.focus(); e.select?.(); return true; })()")
        if found:
            self.send("Input.insertText", text=text)
        return bool(found)

    def resize(self, width: int, height: int) -> None:
        """The viewport's size in CSS pixels."""
        self.width, self.height = width, height
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def press(self, key: str, code: int) -> None:
        """A real key press (``key`` as in ``KeyboardEvent.key``, ``code`` its virtual key
        code, e.g. ``"End", 35``) into the focused element: page scripts see trusted events."""
        for kind in ("rawKeyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", type=kind, key=key, code=key,
                      windowsVirtualKeyCode=code, nativeVirtualKeyCode=code)

    def text(self) -> str:
        """The page's visible text (``document.body.innerText``)."""
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def screenshot(self, path: Path) -> Path:
        """The viewport as a PNG file."""
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


__all__ = ["Browser", "BrowserError", "find_chromium", "stop_group"]
