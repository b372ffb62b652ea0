"""Pre-train each distinct content prior of a sweep once, as Ray tasks that run beside the trials.

``start_priors`` submits one task per distinct prior before Tune starts, so each gets its CPU first; the trials
that do not need a prior start at once on the other slots, and a trial that needs one waits for its task's
result (``wait_for_prior``: a Ray dependency, not a poll) and then loads it from the store (``prior.store``, by
default under the sweep's storage, which every node sees). When every trial needs a prior, nothing could run
beside the pre-training: it takes every CPU of the cluster instead, and the sweep waits for it. A later sweep
with the same prior settings finds the priors in the store and pre-trains nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import ray
import torch
from ray.tune import Callback

from derain.cli.common import worker_logging
from derain.engine.device import resolve_device
from derain.prior.store import ensure_prior, prior_key

log = logging.getLogger("sweeps")


@ray.remote
def _ensure(cfg: Any, threads: int) -> tuple[str, bool]:
    worker_logging()  # pre-training's progress lines reach the driver
    torch.set_num_threads(max(1, threads))
    _, _, hit = ensure_prior(cfg, resolve_device("auto", gpu_granted=bool(ray.get_gpu_ids())))
    return prior_key(cfg), hit


def distinct_priors(configs: list[Any]) -> list[Any]:
    """One config per distinct pre-trained prior among trial configs (checkpoints need no pre-training)."""
    chosen: dict[str, Any] = {}
    for cfg in configs:
        if _needs_prior(cfg):
            chosen.setdefault(prior_key(cfg), cfg)
    return list(chosen.values())


def _needs_prior(cfg: Any) -> bool:
    prior = getattr(cfg, "prior", None)
    return prior is not None and prior.kind != "none" and not prior.checkpoint


@dataclass
class PriorTasks:
    """The pre-training tasks of a sweep, by prior key (``refs``: what trials wait on), and when they began."""

    refs: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0
    logged: bool = False

    def log_when_done(self) -> None:
        """Once every task has finished: log how many priors were pre-trained and how long it took."""
        if self.logged or not self.refs or ray.wait(list(self.refs.values()), num_returns=len(self.refs), timeout=0)[1]:
            return
        self.logged = True
        hits = [hit for _, hit in ray.get(list(self.refs.values()))]
        took = time.perf_counter() - self.started
        log.info("content priors: %d ready, %d pre-trained now, %d from the store (%.1f s)",
                 len(hits), hits.count(False), hits.count(True), took)  # fmt: skip


def start_priors(configs: list[Any], cpus: float, gpus: float | None) -> tuple[PriorTasks, bool]:
    """Submit one pre-training task per distinct prior of ``configs``; (the tasks, whether the sweep must wait
    for them: True when every trial needs a prior, so they take every CPU and nothing runs beside them)."""
    todo = distinct_priors(configs)
    if not todo:
        return PriorTasks(), False
    every = all(_needs_prior(c) for c in configs)
    total = ray.cluster_resources().get("CPU", 1)
    share = max(cpus, total // len(todo)) if every else cpus
    options = {"num_cpus": share, "num_gpus": gpus if gpus else (1 if ray.cluster_resources().get("GPU") else 0)}
    where = "before the trials, on every CPU" if every else "beside the trials"
    log.info("content priors: %d to make sure of, %s", len(todo), where)
    tasks = PriorTasks({prior_key(c): _ensure.options(**options).remote(c, int(share)) for c in todo},
                       time.perf_counter())  # fmt: skip
    return tasks, every


def wait_for_prior(cfg: Any, refs: dict[str, Any] | None) -> None:
    """Block a trial until the pre-training task of its prior (if the sweep started one) has finished."""
    if refs and _needs_prior(cfg) and prior_key(cfg) in refs:
        ray.get(refs[prior_key(cfg)])


class PriorWatch(Callback):
    """Logs, from the driver's Tune loop, when the priors pre-trained beside the trials are ready."""

    def __init__(self, tasks: PriorTasks) -> None:
        self.tasks = tasks

    def on_step_end(self, iteration: int, trials: list, **info) -> None:
        self.tasks.log_when_done()

    def __getstate__(self) -> dict:
        # Tune pickles its callbacks with the experiment; the task refs belong to this driver only.
        return {"tasks": PriorTasks(logged=True)}
