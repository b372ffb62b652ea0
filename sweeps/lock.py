"""One driver per sweep: an advisory lock file in the sweep's folder, held for the driver's lifetime.

``fcntl.flock`` on ``<storage>/<name>/driver.lock`` is released by the kernel when the driver dies, however it
dies, so a crashed driver never blocks ``--resume``. On a shared filesystem where another host's flock is not
visible, the file also carries the holder's pid, host and a heartbeat refreshed every few seconds: a lock
whose heartbeat is fresher than ``STALE_S`` and that names another host is respected too.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import socket
import threading
import time
from pathlib import Path

from derain.errors import DerainError

LOCK = "driver.lock"
HEARTBEAT_S, STALE_S = 5.0, 30.0


class SweepRunningError(DerainError):
    """Another driver holds the sweep."""


class SweepLock:
    """``with SweepLock(folder, name):`` holds the sweep or raises SweepRunningError naming its holder."""

    def __init__(self, folder: str, name: str) -> None:
        self.path, self.name = Path(folder) / LOCK, name
        self._file = None
        self._stop = threading.Event()

    def __enter__(self) -> SweepLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stop.clear()
        self._file = self.path.open("a+")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read(self.path)
            self._file.close()
            raise SweepRunningError(self._running(holder)) from None
        holder = _read(self.path)
        if holder and holder.get("host") != socket.gethostname() and time.time() - holder.get("beat", 0) < STALE_S:
            self._release()
            raise SweepRunningError(self._running(holder))
        self._beat()
        self._thread = threading.Thread(target=self._heartbeat, daemon=True, name="sweep-lock")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._file.seek(0)
        self._file.truncate()
        self._release()

    def _running(self, holder: dict) -> str:
        if not holder:
            return f"sweep {self.name} is running (its lock {self.path} is held)"
        return f"sweep {self.name} is running (pid {holder['pid']}, host {holder['host']}, since {holder['since']})"

    def _beat(self) -> None:
        since = getattr(self, "_since", None) or datetime.datetime.now().isoformat(timespec="seconds")
        self._since = since
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": since, "beat": time.time()}
        self._file.seek(0)
        self._file.truncate()
        self._file.write(json.dumps(info))
        self._file.flush()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            self._beat()

    def _release(self) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()


def check_not_running(folder: str, name: str) -> None:
    """SweepRunningError when a live driver holds the sweep in ``folder`` (checked before anything else, so a
    second driver says so whatever else it would have found); takes nothing."""
    if (Path(folder) / LOCK).exists():
        with SweepLock(folder, name):
            pass


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
