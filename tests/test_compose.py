"""The documented cluster route, run for real on a Docker engine (``pytest -m docker``; not in the default run).

Builds the image, brings up PostgreSQL, the MLflow server, a Ray head and two workers from docker/compose.yaml
(healthy before anything is submitted), submits a toy1d smoke sweep through the Jobs API exactly as the README
does, checks MLflow (on Postgres) for one parent and one child per trial on at least two Ray nodes, then
submits a second sweep and kills a worker container mid-sweep: every trial still finishes exactly once.
Everything is torn down, volumes included. Each phase prints its wall time.

Images: ``BASE_IMAGE`` / ``POSTGRES_IMAGE`` from the environment, else the offline stand-ins that
``../shared/tools/docker-offline.sh`` builds when they exist, else the public images.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from sweeps.results import SWEEP_TAG, TRIAL_TAG

pytestmark = [pytest.mark.docker, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]
PROJECT = f"derain-test-{os.getpid()}"
URI = "http://127.0.0.1:5000"


def _run(*cmd: str, timeout: float = 600, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and done.returncode:
        raise AssertionError(
            f"{' '.join(cmd[:6])} ... exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def _missing_engine() -> str | None:
    if not shutil.which("docker"):
        return "no docker CLI (run ../shared/tools/docker-offline.sh as root)"
    if subprocess.run(["docker", "info"], capture_output=True).returncode:
        return "no running Docker engine"
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode:
        return "no Docker Compose v2"
    return None


def _image(variable: str, local: str, public: str) -> str:
    if os.environ.get(variable):
        return os.environ[variable]
    return (
        local if subprocess.run(["docker", "image", "inspect", local], capture_output=True).returncode == 0 else public
    )


class Phases:
    """Prints and keeps the wall time of each phase."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    def __call__(self, name: str, start: float) -> None:
        self.times[name] = time.monotonic() - start
        print(f"phase {name}: {self.times[name]:.1f} s", flush=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    reason = _missing_engine()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("compose")
    env_file = folder / ".env"
    env_file.write_text(
        f"POSTGRES_USER=mlflow\nPOSTGRES_PASSWORD={secrets.token_hex(12)}\nPOSTGRES_DB=mlflow\n"
        f"RAY_AUTH_MODE=token\nRAY_AUTH_TOKEN={secrets.token_hex(16)}\nBIND_ADDRESS=127.0.0.1\nRAY_HEAD_CPUS=0\n"
    )
    base = _image("BASE_IMAGE", "derain-local/python:3.11", "python:3.11-slim")
    postgres = _image("POSTGRES_IMAGE", "derain-local/postgres:16", "postgres:16")
    env = {**os.environ, "ENV_FILE": str(env_file), "POSTGRES_IMAGE": postgres, "BASE_IMAGE": base}
    compose = ["docker", "compose", "-p", PROJECT, "-f", str(ROOT / "docker/compose.yaml"), "--env-file", str(env_file)]
    phases = Phases()
    try:
        start = time.monotonic()
        _run("docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-f", "docker/Dockerfile",
             "-t", "derain-sweeps:cpu", str(ROOT), timeout=1800)  # fmt: skip
        phases("build", start)
        size = _run("docker", "image", "inspect", "-f", "{{.Size}}", "derain-sweeps:cpu").stdout.strip()
        print(f"image derain-sweeps:cpu: {int(size) / 2**30:.2f} GiB (base {base})", flush=True)
        up = time.monotonic()
        _run(*compose, "up", "-d", "--wait", "--no-build", "--scale", "ray-worker=2", timeout=600, env=env)
        phases("up (all healthy)", up)
        yield {"compose": compose, "env": env, "phases": phases, "up": up, "folder": folder}
    finally:
        logs = subprocess.run([*compose, "logs", "--tail", "30"], capture_output=True, text=True, env=env)
        (folder / "compose.log").write_text(logs.stdout + logs.stderr)
        start = time.monotonic()
        subprocess.run([*compose, "down", "-v", "--remove-orphans"], capture_output=True, env=env, timeout=300)
        phases("down -v", start)


def _submit(stack: dict, name: str, *extra: str) -> subprocess.Popen:
    """The README's command: ``ray job submit`` on the head, against the Jobs API on 8265."""
    sweep = ["python", "sweeps/run.py", "--space", "toy1d", "--scale", "smoke", "--address", "auto",
             "--storage", "/shared/sweeps", "--tracking-uri", "http://mlflow:5000", "--name", name, *extra]  # fmt: skip
    cmd = [*stack["compose"], "exec", "-T", "ray-head", "ray", "job", "submit", "--address", "http://127.0.0.1:8265",
           "--working-dir", "/opt/derain-sweeps", "--", *sweep]  # fmt: skip
    log = stack["folder"] / f"{name}.log"  # a file, not a pipe: the job's log stream would fill a pipe and block
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True, env=stack["env"])
    proc.log = log
    return proc


def _finish(proc: subprocess.Popen, timeout: float = 900) -> str:
    """Wait for the submitting process; its whole output."""
    try:
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.log.read_text()


def _children(name: str) -> list:
    client = MlflowClient(URI)
    exp = client.get_experiment_by_name("toy1d")
    parents = client.search_runs([exp.experiment_id], f"tags.`{SWEEP_TAG}` = '{name}'") if exp else []
    if len(parents) != 1:
        return []
    return client.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{parents[0].info.run_id}'")


def _wait_for(condition, proc: subprocess.Popen, what: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the job ended before {what}: {proc.log.read_text()[-3000:]}")
        assert time.monotonic() < deadline, f"no {what} within {seconds:.0f} s"
        time.sleep(2)


def test_a_sweep_through_the_jobs_api_spreads_over_workers_and_survives_losing_one(stack):
    assert urllib.request.urlopen(f"{URI}/health", timeout=5).status == 200  # Host 127.0.0.1:5000 allowed
    start = time.monotonic()
    proc = _submit(stack, "jobs-api", "--num-samples", "2")
    _wait_for(lambda: _children("jobs-api"), proc, "the first trial's MLflow run")
    stack["phases"]("up to the first trial", stack["up"])
    out = _finish(proc)
    stack["phases"]("first sweep (submit to end)", start)
    assert proc.returncode == 0 and "succeeded" in out.lower(), out[-3000:]
    children = _children("jobs-api")
    assert len(children) == 4 and all(c.info.status == "FINISHED" for c in children)  # 2 points x 2 seeds
    assert len({c.data.tags[TRIAL_TAG] for c in children}) == 4
    assert len({c.data.tags["ray.node_id"] for c in children}) >= 2  # both workers ran trials (the head has 0 CPUs)

    start = time.monotonic()
    slow = ("--num-samples", "2", "--set", "train.iterations=400", "--set", "train.eval_every=40")
    proc = _submit(stack, "lossy", *slow)
    try:
        _wait_for(lambda: any(c.data.metrics.get("train/step", 0) >= 40 for c in _children("lossy")), proc, "a report")
        worker = _run(*stack["compose"], "ps", "-q", "ray-worker", env=stack["env"]).stdout.split()[0]
        _run("docker", "kill", worker)  # one worker dies with its trials in flight
        stack["phases"]("second sweep until the kill", start)
    except BaseException:
        proc.kill()
        raise
    out = _finish(proc)
    stack["phases"]("second sweep (submit to end)", start)
    assert proc.returncode == 0 and "succeeded" in out.lower(), out[-4000:]
    children = _children("lossy")
    ids = [c.data.tags[TRIAL_TAG] for c in children]
    assert len(ids) == 4 and len(set(ids)) == 4  # every trial exactly once, no duplicate child
    assert all(c.info.status == "FINISHED" and c.data.metrics["train/step"] == 400 for c in children)
    count = "SELECT count(*) FROM runs"  # the runs live in the stack's PostgreSQL, not in a file store
    rows = _run(*stack["compose"], "exec", "-T", "postgres", "sh", "-c",
                f'psql -tA -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "{count}"', env=stack["env"])  # fmt: skip
    assert int(rows.stdout.strip()) == 2 * (1 + 4)  # two sweeps: a parent and four children each
