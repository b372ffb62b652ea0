"""Pre-train each distinct content prior of a sweep once, before its trials, as Ray tasks.

Trials then load the priors from the store (``prior.store``, by default under the sweep's storage, which every
node sees); a later sweep with the same prior settings finds them there and pre-trains nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import ray

from derain.cli import worker_logging
from derain.device import resolve_device
from derain.prior.store import ensure_prior, prior_key

log = logging.getLogger("sweeps")


@ray.remote
def _ensure(cfg: Any) -> tuple[str, bool]:
    worker_logging()  # pre-training's progress lines reach the driver
    _, _, hit = ensure_prior(cfg, resolve_device("auto", gpu_granted=bool(ray.get_gpu_ids())))
    return prior_key(cfg), hit


def distinct_priors(configs: list[Any]) -> list[Any]:
    """One config per distinct pre-trained prior among trial configs (checkpoints need no pre-training)."""
    chosen: dict[str, Any] = {}
    for cfg in configs:
        prior = getattr(cfg, "prior", None)
        if prior is not None and prior.kind != "none" and not prior.checkpoint:
            chosen.setdefault(prior_key(cfg), cfg)
    return list(chosen.values())


def pretrain_priors(configs: list[Any], cpus: float, gpus: float | None) -> int:
    """Ensure every distinct prior exists in its store; logs how many were trained and how long it took.
    Returns how many distinct priors the sweep uses."""
    todo = distinct_priors(configs)
    if not todo:
        return 0
    start = time.perf_counter()
    log.info("content priors: making sure %d prior(s) are in the store before the trials start", len(todo))
    options = {"num_cpus": cpus, "num_gpus": gpus if gpus else (1 if ray.cluster_resources().get("GPU") else 0)}
    results = ray.get([_ensure.options(**options).remote(cfg) for cfg in todo])
    trained = sum(not hit for _, hit in results)
    log.info(
        "content priors: %d needed, %d pre-trained now, %d from the store (%.1f s)",
        len(results),
        trained,
        len(results) - trained,
        time.perf_counter() - start,
    )
    return len(todo)
