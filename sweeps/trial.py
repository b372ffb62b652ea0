"""The Tune trainable, worker side only: trial params -> config -> ``fit`` with a ``tune.report`` per evaluation.

Each report carries the run folder the loop just wrote as the checkpoint, so an interrupted trial resumes from
``tune.get_checkpoint()``. A diverged trial reports worst-case objectives, leaves a marker in its checkpoint
(so Tune's retries fail at once instead of re-training) and raises: it ends as ERROR in Tune and FAILED in
MLflow while the sweep goes on. Driver-side helpers (``TrialSpec``, ``trial_config``) live in ``sweeps.plan``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from derain.device import resolve_device
from derain.loop import CHECKPOINT, NonFiniteLossError
from derain.toy1d import fit1d
from derain.train import fit
from sweeps.plan import TrialSpec, resolve, sanitize, trial_config
from sweeps.shared import shared_banks

DIVERGED = "diverged.txt"


class TrialDivergedError(RuntimeError):
    """Raised by a trial whose loss became non-finite (also on every retry of it)."""


def train_trial(params: dict[str, Any], spec: TrialSpec) -> None:
    """Tune function trainable."""
    logging.getLogger("ray.train").setLevel(logging.WARNING)  # one "checkpoint created" line per report is noise
    task, cfg = resolve(spec, params)[0], trial_config(spec, params)
    device = resolve_device("auto", gpu_granted=bool(ray.get_gpu_ids()))
    torch.set_num_threads(max(1, int(tune.get_context().get_trial_resources().required_resources.get("CPU", 1))))
    node = {"node_id": ray.get_runtime_context().get_node_id()}
    last: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="derain-trial-") as folder:
        run_dir = Path(folder)

        def report(step: int, metrics: dict[str, float], extra: dict | None = None) -> None:
            last.update(metrics)
            checkpoint = tune.Checkpoint.from_directory(run_dir)
            tune.report({**sanitize(metrics, spec.objectives), **node, **(extra or {})}, checkpoint=checkpoint)

        run = {"device": device, "run_dir": run_dir, "on_eval": report, "resume": _restore(run_dir)}
        try:
            fit1d(cfg, **run) if task == "toy1d" else fit(cfg, banks=shared_banks(spec.bank_store, cfg), **run)
        except NonFiniteLossError as err:
            (run_dir / DIVERGED).write_text(str(err))
            worst = sanitize({k: float("nan") for k in spec.objectives}, spec.objectives)
            report(err.step, {**sanitize(last, {}), **worst}, {"diverged_step": err.step})
            raise TrialDivergedError(str(err)) from err


def _restore(run_dir: Path) -> bool:
    """Copy Tune's checkpoint of this trial (if any) into ``run_dir``; True when there was one to resume."""
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return False
    with checkpoint.as_directory() as folder:
        if (Path(folder) / DIVERGED).exists():
            raise TrialDivergedError((Path(folder) / DIVERGED).read_text())
        shutil.copy(Path(folder) / CHECKPOINT, run_dir / CHECKPOINT)
    return True
