"""Ray cluster connection, resource requests and storage checks, all done before any trial starts."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import uuid
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from derain.errors import DerainError
from sweeps.results import is_uri

CONNECT_TIMEOUT_S = 10

log = logging.getLogger("sweeps")


class SweepError(DerainError):
    """Bad sweep input or environment; printed as one line by the CLI."""


HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # + empty SETTINGS
SETTINGS_FRAME = 4


def _check_reachable(address: str) -> None:
    """Fail fast (seconds, not minutes) when an explicit address does not answer, or answers but not as Ray's
    GCS. Ray itself would keep retrying a wrong listener for many minutes; the GCS is a gRPC server, which
    answers the HTTP/2 preface with its own SETTINGS frame at once."""
    if address in ("auto", "local"):
        return
    if address.startswith("ray://"):
        raise SweepError(
            f"--address {address}: Ray Client (ray://) is not installed with this project; give the head's GCS "
            "address host:6379, or submit the sweep to the cluster with `ray job submit`"
        )
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise SweepError(f"--address '{address}' is not of the form host:port or auto")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S) as conn:
            conn.settimeout(CONNECT_TIMEOUT_S)
            conn.sendall(HTTP2_PREFACE)
            reply = conn.recv(9)
    except OSError as err:
        raise SweepError(f"cannot reach Ray at --address {address}: {err}") from None
    if len(reply) < 4 or reply[3] != SETTINGS_FRAME:
        raise SweepError(f"cannot connect to Ray at --address {address}: something answers there, but not Ray's GCS")


def connect(address: str | None) -> bool:
    """Connect to ``address`` or start a local Ray; True if this call started/connected (and must shut down).

    An already initialised Ray (e.g. a test's ``ray.init(num_cpus=2)``) is used as is.
    """
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")  # trials keep the driver's cwd: relative paths work
    if address:
        _check_reachable(address)
        log.info("connecting to the Ray cluster at %s", address)
        try:
            ray.init(address=address, log_to_driver=True, logging_level=logging.getLogger().getEffectiveLevel())
        except (ConnectionError, RuntimeError) as err:
            raise SweepError(f"cannot connect to Ray at --address {address}: {err}") from None
    else:
        # "local": always a fresh instance, never an attach to whatever /tmp/ray/ray_current_cluster names.
        # No dashboard: MLflow is the sweep's UI, and the dashboard adds over a second to every start
        # (a cluster started with `ray start --head` keeps its own).
        log.info("starting a local Ray instance")
        level = logging.getLogger().getEffectiveLevel()
        ray.init(address="local", include_dashboard=False, log_to_driver=True, logging_level=level)
    return True


def alive_nodes() -> list[dict]:
    return [n for n in ray.nodes() if n.get("Alive")]


def cluster_gpus() -> float:
    return float(ray.cluster_resources().get("GPU", 0))


def concurrent_slots(resources: dict[str, float]) -> int:
    """How many trials of ``resources`` the connected cluster runs at once (at least 1)."""
    have = ray.cluster_resources()
    fits = [have.get(kind.upper(), 0) / need for kind, need in resources.items() if need > 0]
    return max(1, int(min(fits, default=1) + 1e-9))


def trial_resources(cpus: float, gpus: float | None, small_model: bool) -> dict[str, float]:
    """Per-trial request: GPUs only where the cluster has them; a fractional GPU share for small models."""
    available = cluster_gpus()
    if gpus is not None and gpus > 0 and available == 0:
        raise SweepError(f"--gpus-per-trial {gpus} asked for, but the Ray cluster has no GPU")
    if gpus is not None and gpus > available:
        raise SweepError(f"--gpus-per-trial {gpus} exceeds the cluster's {available:g} GPU(s)")
    if gpus is None:
        gpus = (0.25 if small_model else 1.0) if available else 0.0
    if cpus > float(ray.cluster_resources().get("CPU", 0)):
        raise SweepError(f"--cpus-per-trial {cpus} exceeds the cluster's {ray.cluster_resources().get('CPU', 0):g}")
    return {"cpu": cpus, "gpu": gpus}


def resolve_storage(storage: str, create: bool = True) -> str:
    """Absolute, writable storage path (made if missing), or a URI left to pyarrow; checked before Ray starts.
    With ``create`` False (a dry run) the path is only resolved: nothing is made or written."""
    if is_uri(storage):
        return storage
    path = Path(storage).expanduser().resolve()
    if not create:
        return str(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as err:
        raise SweepError(f"storage path '{path}' is not writable: {err}") from None
    return str(path)


def check_shared_storage(storage: str) -> None:
    """Refuse a node-local storage path on a multi-node cluster (checked from every node)."""
    nodes = len(alive_nodes())
    if not is_uri(storage) and nodes > 1 and not _visible_on_every_node(Path(storage)):
        raise SweepError(
            f"storage path '{storage}' is local to this machine, but the Ray cluster has {nodes} nodes: "
            "pass --storage on storage every node mounts at the same path (NFS) or an s3:// / gs:// URI"
        )


@ray.remote(num_cpus=0)
def _exists(path: str) -> bool:
    return Path(path).exists()


def _visible_on_every_node(path: Path) -> bool:
    """Write a marker here and look for it from a task pinned to every alive node."""
    marker = path / f".derain-shared-check-{uuid.uuid4().hex}"
    marker.write_text("ok")
    try:
        checks = [
            _exists.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(
                str(marker)
            )
            for n in alive_nodes()
        ]
        return all(ray.get(checks, timeout=60))
    finally:
        marker.unlink(missing_ok=True)
