"""The Tune trainable: trial params -> config -> seed/device -> train with checkpoints -> ``tune.report``.

One ``tune.report`` per evaluation, each with the checkpoint the loop just wrote, so an interrupted trial
resumes from ``tune.get_checkpoint()``. A diverged trial reports worst-case objectives, leaves a marker in
its checkpoint (so Tune's retries fail at once instead of re-training) and raises: it ends as ERROR in Tune
and FAILED in MLflow while the sweep goes on.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from derain.config import flatten, to_dict
from derain.loop import NonFiniteLossError, run_loop
from derain.scales import make_config
from derain.toy1d import make_toy_config

DIVERGED = "diverged.txt"
CHECKPOINT = "checkpoint.pt"


class TrialDivergedError(RuntimeError):
    """Raised by a trial whose loss became non-finite (also on every retry of it)."""


@dataclass(frozen=True)
class TrialSpec:
    """Everything a trial needs besides its sampled params; small, sent with the trainable."""

    task: str  # derain | toy1d
    scale: str
    base: dict[str, Any]  # overrides for every trial: space fixed + --set + seeds
    objectives: dict[str, str] = field(default_factory=dict)  # metric -> min|max, sanitised for the searcher
    bank_store: Any = None  # BankStore actor handle (2D only)


def resolve(spec: TrialSpec, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(task, flat overrides) of a trial: an explicit ``point`` dict is unpacked and may name its task."""
    params = dict(params)
    point = dict(params.pop("point", None) or {})
    task = point.pop("task", spec.task)
    return task, {**point, **params}


def trial_config(spec: TrialSpec, params: dict[str, Any]):
    """The validated config of a trial: scale preset, then the sweep's base overrides, then the params."""
    task, overrides = resolve(spec, params)
    make = make_toy_config if task == "toy1d" else make_config
    base = spec.base if task == spec.task else {k: v for k, v in spec.base.items() if k == "seed"}
    return make(spec.scale, {**base, **overrides})


def flat_params(spec: TrialSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Flattened full config of a trial, as MLflow params (with its task)."""
    return {"task": resolve(spec, params)[0], **flatten(trial_config(spec, params))}


def sanitize(metrics: dict[str, float], objectives: dict[str, str]) -> dict[str, float]:
    """Finite numbers only: +inf PSNR (perfect output) -> 100 dB; NaN objectives -> worst value; other NaN
    dropped. A NaN objective would leave the Optuna trial RUNNING forever."""
    clean = {}
    for key, value in metrics.items():
        if math.isfinite(value):
            clean[key] = value
        elif key.endswith("psnr") and value > 0:
            clean[key] = 100.0
        elif key in objectives:
            clean[key] = 1e9 if objectives[key] == "min" else -1e9
    for key, mode in objectives.items():
        clean.setdefault(key, 1e9 if mode == "min" else -1e9)
    return clean


def _restore(workdir: Path) -> bool:
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return False
    with checkpoint.as_directory() as folder:
        if (Path(folder) / DIVERGED).exists():
            raise TrialDivergedError((Path(folder) / DIVERGED).read_text())
        shutil.copy(Path(folder) / CHECKPOINT, workdir / CHECKPOINT)
    return True


def _build(spec: TrialSpec, cfg, device: torch.device):
    """(task, artifact writer) for the 2D or 1D task."""
    if hasattr(cfg, "content"):  # a Toy1dConfig
        from derain.toy1d.fit import build_task_1d, save_signal_plot

        task, sets = build_task_1d(cfg, device, with_sets=True)
        return task, lambda model, path: save_signal_plot(model, sets, device, path)
    from derain.backgrounds import PatchBank, bank_key
    from derain.train import build_task, save_triptych

    banks = None
    if spec.bank_store is not None:

        def fetch(source: str) -> list:
            return ray.get(ray.get(spec.bank_store.get.remote(bank_key(cfg.data, source))))

        pool, heldout = fetch(cfg.data.source)
        if cfg.data.eval_source and cfg.data.eval_source != cfg.data.source:
            heldout = fetch(cfg.data.eval_source)[1]
        banks = (PatchBank.from_numpy(pool), PatchBank.from_numpy(heldout))
    task, data = build_task(cfg, device, banks)
    return task, lambda model, path: save_triptych(model, data, device, path)


def train_trial(params: dict[str, Any], spec: TrialSpec) -> None:
    """Tune function trainable."""
    logging.getLogger("ray.train").setLevel(logging.WARNING)  # one "checkpoint created" line per report is noise
    cfg = trial_config(spec, params)
    device = torch.device("cuda" if torch.cuda.is_available() and ray.get_gpu_ids() else "cpu")
    torch.set_num_threads(max(1, int(tune.get_context().get_trial_resources().required_resources.get("CPU", 1))))
    workdir = Path(tempfile.mkdtemp(prefix="derain-trial-"))
    try:
        _train(spec, cfg, device, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # reported checkpoints were copied to storage already


def _train(spec: TrialSpec, cfg: Any, device: torch.device, workdir: Path) -> None:
    resume = _restore(workdir)
    task, write_artifacts = _build(spec, cfg, device)
    (workdir / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))
    node = {"node_id": ray.get_runtime_context().get_node_id()}
    last: dict[str, float] = {}

    def on_eval(step: int, metrics: dict[str, float]) -> None:
        last.update(metrics)
        if step >= cfg.train.iterations:
            write_artifacts(task.model, workdir / "triptych.png")
        tune.report({**sanitize(metrics, spec.objectives), **node}, checkpoint=tune.Checkpoint.from_directory(workdir))

    try:
        run_loop(task, cfg.train, cfg.seed, device, on_eval, workdir / CHECKPOINT, resume, to_dict(cfg))
    except NonFiniteLossError as err:
        (workdir / DIVERGED).write_text(str(err))
        worst = sanitize({k: float("nan") for k in spec.objectives}, spec.objectives)
        tune.report({**sanitize(last, {}), **worst, "diverged_step": err.step, **node},
                    checkpoint=tune.Checkpoint.from_directory(workdir))  # fmt: skip
        raise TrialDivergedError(str(err)) from err
