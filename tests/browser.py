"""Headless Chromium driven over the DevTools protocol (aiohttp's websocket, which ray[default] installs): load
a page, wait for text, run JavaScript, take a screenshot. For the ``browser``-marked tests."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Page:
    """One tab of a headless Chromium; use as ``async with Page() as page``."""

    def __init__(self, width: int = 1400, height: int = 900) -> None:
        self.size, self._id = (width, height), 0

    async def __aenter__(self) -> Page:
        # Chromium's helper processes may still write to the profile as it is removed: ignore what they leave.
        port, self._profile = free_port(), tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={port}"]
        args += [f"--user-data-dir={self._profile.name}", f"--window-size={self.size[0]},{self.size[1]}"]
        self._proc = subprocess.Popen(
            [CHROMIUM, *args, "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        target = _first_page(port)
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(target, max_msg_size=0)
        await self.call("Page.enable")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ws.close()
        await self._session.close()
        os.killpg(self._proc.pid, signal.SIGKILL)  # the browser and its helper processes
        self._proc.wait(10)
        self._profile.cleanup()

    async def call(self, method: str, **params: Any) -> dict:
        self._id += 1
        await self._ws.send_json({"id": self._id, "method": method, "params": params})
        while True:
            message = await self._ws.receive_json(timeout=60)
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    async def open(self, url: str) -> None:
        await self.call("Page.navigate", url=url)

    async def wait_for_text(self, *texts: str, timeout: float = 60) -> str:
        """The page's visible text once it contains every one of ``texts``; TimeoutError naming the missing."""
        deadline = time.monotonic() + timeout
        while True:
            shown = await self.evaluate("document.body ? document.body.innerText : ''") or ""
            missing = [t for t in texts if t not in shown]
            if not missing:
                return shown
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never showed {missing}; it shows: {shown[:1500]!r}")
            await asyncio.sleep(0.5)

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))


def _first_page(port: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as answer:
                pages = [p for p in json.load(answer) if p.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("headless Chromium did not open its DevTools port")
        time.sleep(0.2)
