"""The sweep CLI as the tests run it in a process of its own: its command line, and a driver started in its
own process group, so that a test can SIGKILL it together with the local Ray it started."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

RUN = [sys.executable, str(Path(__file__).resolve().parents[1] / "sweeps" / "run.py")]


def start_sweep(args: list[str], cwd: Path | None = None, env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """``python sweeps/run.py args`` running in the background; its stdout and stderr together, as text."""
    return subprocess.Popen(
        [*RUN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
