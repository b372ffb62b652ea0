"""docker/ structure (no Docker engine here): compose services and ports, one image from docker/Dockerfile,
the same shared storage path on every Ray node, and every documented sweep command parsed by the real CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from sweeps.run import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_services_ports_image_and_storage():
    services = _compose()["services"]
    readme = (ROOT / "README.md").read_text()
    for name in ("ray-head", "ray-worker", "mlflow", "postgres"):
        assert name in services and f"`{name}`" in readme
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("${BIND_ADDRESS:-127.0.0.1}:"), (name, port)
    for name in ("ray-head", "ray-worker"):
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile"
        assert "shared:/shared" in services[name]["volumes"]
    assert "--scale ray-worker" in (DOCKER / "compose.yaml").read_text()


def test_dockerfile_is_non_root_without_secrets():
    text = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^USER derain$", text, re.M) and "ARG TORCH_FLAVOR" in text
    assert not re.search(r"(PASSWORD|TOKEN|SECRET)\s*=\s*\S", text)
    assert (DOCKER / ".env.example").exists() and "docker/.env" in (ROOT / ".gitignore").read_text()


def _documented_commands() -> list[str]:
    texts = [
        (DOCKER / "compose.yaml").read_text(),
        (ROOT / "README.md").read_text(),
        (DOCKER / "kuberay" / "rayjob.yaml").read_text(),
    ]
    commands = []
    for text in texts:
        joined = re.sub(r"\\\n\s*#?\s*", " ", text)  # continuation lines, also inside comments
        joined = re.sub(r"\n\s{4,}(--)", r" \1", joined)  # folded YAML scalars
        found = re.finditer(r"python sweeps/run\.py ([^\n`]*)", joined)
        commands += [m.group(1).split(" #")[0] for m in found]  # drop trailing shell comments
    return commands


def test_documented_commands_use_real_flags():
    commands = _documented_commands()
    assert len(commands) >= 3
    parser = build_parser()
    for command in commands:
        args = [a for a in shlex.split(command.replace("$(", "").replace(")", "")) if a != "\\"]
        parser.parse_args(args)  # exits (fails the test) on an unknown flag


def test_kuberay_job_runs_the_balance_sweep_with_shared_storage():
    job = yaml.safe_load((DOCKER / "kuberay" / "rayjob.yaml").read_text())
    assert job["kind"] == "RayJob" and "--space balance" in job["spec"]["entrypoint"]
    head = job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in head["env"]}
    assert env["STORAGE"].startswith("s3://") and env["MLFLOW_TRACKING_URI"].startswith("http")
    worker = job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    assert worker["volumeMounts"] == head["volumeMounts"]  # the prior store at the same path everywhere


def test_the_stack_starts_in_order_and_mlflow_accepts_its_service_name():
    services = _compose()["services"]
    order = {"mlflow": "postgres", "ray-head": "mlflow", "ray-worker": "ray-head"}
    for service, needs in order.items():
        assert services[service]["depends_on"][needs]["condition"] == "service_healthy", service
    assert all("healthcheck" in services[s] for s in ("postgres", "mlflow", "ray-head", "ray-worker"))
    command = " ".join(services["mlflow"]["command"])
    allowed = command.split("--allowed-hosts", 1)[1].lstrip("=").split()[0].strip('"').split(",")
    assert {"mlflow", "mlflow:5000", "localhost:*", "127.0.0.1:*"} <= set(allowed)
    assert "pip install" not in command  # the Postgres driver is in the image
    assert services["postgres"]["image"] == "${POSTGRES_IMAGE:-postgres:16}"
    assert services["ray-head"]["build"]["args"]["BASE_IMAGE"] == "${BASE_IMAGE:-python:3.11-slim}"


def test_every_node_gets_the_dashboard_and_the_jobs_api():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"ray[default,tune]==' in pyproject and '"psycopg[binary]==' in pyproject
    assert "pip install -e '.[server]'" in (DOCKER / "Dockerfile").read_text()


def test_each_service_gets_only_its_own_secrets():
    """No shared env_file: Ray nodes see the Ray token, mlflow the store URI (in its environment, not on its
    command line), postgres its credentials, and nothing else of the others'."""
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    assert not any("env_file" in spec for spec in services.values())

    def env(name: str) -> str:
        return " ".join(f"{k}={v}" for k, v in (services[name].get("environment") or {}).items())

    for node in ("ray-head", "ray-worker"):
        assert "RAY_AUTH_TOKEN=${RAY_AUTH_TOKEN" in env(node) and "POSTGRES" not in env(node)
    assert "MLFLOW_BACKEND_STORE_URI=postgresql://${POSTGRES_USER" in env("mlflow") and "RAY_AUTH" not in env("mlflow")
    assert "PASSWORD" not in " ".join(services["mlflow"]["command"])
    assert "POSTGRES_PASSWORD=${POSTGRES_PASSWORD" in env("postgres") and "RAY_AUTH" not in env("postgres")
