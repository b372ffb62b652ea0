"""The MLflow UI as a newcomer meets it (issue 16): a real toy1d smoke sweep into a temp sqlite store, the
`mlflow ui` it prints, the printed link opened in headless Chromium. The page must be the runs table with the
sweep's parent run, and expanding the parent must show every child by its readable name."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from browser import CHROMIUM, Page, free_port
from mlflow.tracking import MlflowClient
from sweep_cli import RUN

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="browser: no Chromium on this machine (apt-get install -y chromium)"),
]
EXPAND = """(() => {
  const row = Array.from(document.querySelectorAll('[role=row]')).find(r => r.innerText.includes(%r));
  const button = row && Array.from(row.querySelectorAll('button')).find(b => b.querySelector('svg'));
  if (button) button.click();
  return Boolean(button);
})()"""


@pytest.fixture
def swept(tmp_path):
    """(tracking URI, printed link, child run names) of a finished toy1d smoke sweep named 'ui'."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["--space", "toy1d", "--scale", "smoke", "--name", "ui", "--storage", str(tmp_path / "ray")]
    done = subprocess.run(
        [*RUN, *args, "--tracking-uri", uri], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"mlflow ui --backend-store-uri {uri}" in done.stdout
    link = re.search(r"then open (http://\S+)", done.stdout).group(1)
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("toy1d").experiment_id])
    return uri, link, sorted(r.info.run_name for r in runs if "mlflow.parentRunId" in r.data.tags)


@pytest.fixture
def ui(swept, tmp_path):
    uri, link, children = swept
    port = free_port()
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1", "--port", str(port)]
    # Its own process group: `mlflow ui` starts uvicorn workers and job consumers that outlive a killed parent
    # (each run of this test left ~2 GB of them behind), so the whole group is killed at the end.
    log = (tmp_path / "ui.log").open("w")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.5)
        yield link.replace("127.0.0.1:5000", f"127.0.0.1:{port}"), children
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)
        log.close()


def test_the_printed_link_opens_the_runs_table_with_readable_children(ui, tmp_path):
    link, children = ui
    assert len(children) == 2 and all(re.fullmatch(r"K4-M(8|64)-narrow-t\d", n) for n in children), children

    async def visit() -> tuple[str, str, bool]:
        async with Page() as page:
            await page.open(link)
            landing = await page.wait_for_text("Run Name", "ui")  # the runs table's header and the parent
            await page.screenshot(tmp_path / "runs.png")
            expanded = await page.evaluate(EXPAND % "ui")
            shown = await page.wait_for_text(*children)
            await page.screenshot(tmp_path / "expanded.png")
            return landing, shown, expanded

    landing, shown, expanded = asyncio.run(visit())
    assert "1 matching runs" in landing or "3 matching runs" in landing  # the runs table, not an overview
    assert expanded and "3 matching runs" in shown  # the parent and its two children
    assert (tmp_path / "expanded.png").stat().st_size > 10_000
