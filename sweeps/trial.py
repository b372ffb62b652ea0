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

from derain.engine.device import resolve_device
from derain.engine.ensemble import fit_ensemble
from derain.engine.loop import CHECKPOINT, NonFiniteLossError, precision
from derain.tasks import TASKS, task_of
from sweeps.members import folder, member_params, prefixed
from sweeps.plan import TrialSpec, resolve, sanitize, trial_config
from sweeps.priors import wait_for_prior
from sweeps.results import PRECISION_KEY
from sweeps.shared import shared_banks

DIVERGED = "diverged.txt"


class TrialDivergedError(RuntimeError):
    """Raised by a trial whose loss became non-finite (also on every retry of it)."""


def worker_setup(amp: bool) -> tuple[torch.device, dict[str, str]]:
    """(device, the keys every report carries: node, training precision) of the trial running here, whose
    config says ``train.amp``; torch gets the trial's CPUs as threads."""
    logging.getLogger("ray.train").setLevel(logging.WARNING)  # one "checkpoint created" line per report is noise
    device = resolve_device("auto", gpu_granted=bool(ray.get_gpu_ids()))
    torch.set_num_threads(max(1, int(tune.get_context().get_trial_resources().required_resources.get("CPU", 1))))
    return device, {"node_id": ray.get_runtime_context().get_node_id(), PRECISION_KEY: precision(device, amp)}


def train_trial(params: dict[str, Any], spec: TrialSpec) -> None:
    """Tune function trainable: one configuration, or an ensemble's members (``train_members``)."""
    if (members := member_params(params)) is not None:
        return train_members(members, spec)
    task, cfg = resolve(spec, params)[0], trial_config(spec, params)
    wait_for_prior(cfg, spec.priors)  # its pre-training task runs beside the trials that need none
    device, node = worker_setup(cfg.train.amp)
    last: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="derain-trial-") as folder:
        run_dir = Path(folder)

        def report(step: int, metrics: dict[str, float], extra: dict | None = None) -> None:
            last.update(metrics)
            checkpoint = tune.Checkpoint.from_directory(run_dir)
            tune.report({**sanitize(metrics, spec.objectives), **node, **(extra or {})}, checkpoint=checkpoint)

        run = {"device": device, "run_dir": run_dir, "on_eval": report, "resume": _restore(run_dir)}
        try:
            kind = TASKS[task]
            kind.fit(cfg, **run, **({"banks": shared_banks(spec.bank_store, cfg)} if kind.banks else {}))
        except NonFiniteLossError as err:
            (run_dir / DIVERGED).write_text(str(err))
            report(err.step, {**sanitize(last, {}), **_worst(spec)}, {"diverged_step": err.step})
            raise TrialDivergedError(str(err)) from err


def _worst(spec: TrialSpec) -> dict[str, float]:
    """The objectives' worst values: what a diverged run reports, so that no searcher waits on it."""
    return sanitize(dict.fromkeys(spec.objectives, float("nan")), spec.objectives)


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


def train_members(members: list[dict[str, Any]], spec: TrialSpec) -> None:
    """An ensemble trial (``sweeps.members``): its members train together, one report per evaluation with each
    member's metrics (``m<k>/...``); a member that diverges fails alone (``m<k>/diverged_step`` in every later
    report), the trial fails only when every member has."""
    cfgs = [trial_config(spec, p) for p in members]
    for cfg in cfgs:
        wait_for_prior(cfg, spec.priors)
    device, node = worker_setup(cfgs[0].train.amp)  # members share their train config
    with tempfile.TemporaryDirectory(prefix="derain-ensemble-") as tmp:
        run_dir = Path(tmp)
        dirs = [run_dir / folder(k) for k in range(len(cfgs))]
        failed = _restore_members(dirs)  # member -> (step, error) of those that diverged before a resume
        live = [k for k in range(len(cfgs)) if k not in failed]
        last: dict[int, dict[str, float]] = {}

        def report(step: int, results: dict[int, Any]) -> None:
            out = dict(node)
            for j, result in results.items():
                k = live[j]
                if isinstance(result, NonFiniteLossError) and k not in failed:
                    failed[k] = (result.step, str(result))
                    (dirs[k] / DIVERGED).write_text(f"{result.step}\t{result}")
                    out.update(prefixed(k, {**sanitize(last.get(k, {}), {}), **_worst(spec)}))
                elif isinstance(result, dict):
                    last[k] = result
                    out.update(prefixed(k, sanitize(result, spec.objectives)))
            out.update({f"m{k}/diverged_step": s for k, (s, _) in failed.items()})  # every report says who failed
            tune.report(out, checkpoint=tune.Checkpoint.from_directory(run_dir))

        if live:
            store = spec.bank_store
            banks = (lambda c: shared_banks(store, c)) if task_of(cfgs[0]).banks else None
            kept = [cfgs[k] for k in live]
            resume = (dirs[live[0]] / CHECKPOINT).exists()
            run = {"run_dirs": [dirs[k] for k in live], "resume": resume, "banks": banks, "on_round": report}
            results = fit_ensemble(kept, device=device, **run)
            late = {j: r for j, r in enumerate(results) if isinstance(r, NonFiniteLossError) and live[j] not in failed}
            if late:  # every member left diverged between two evaluations: said once more
                report(max(r.step for r in late.values()), late)
    if len(failed) == len(cfgs):
        raise TrialDivergedError(f"every member of the ensemble diverged; member 0: {failed[0][1]}")


def _restore_members(dirs: list[Path]) -> dict[int, tuple[int, str]]:
    """Copy each member's checkpoint from Tune's checkpoint of this ensemble into ``dirs`` (made here); the
    members that had diverged, with (step, error)."""
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    checkpoint, failed = tune.get_checkpoint(), {}
    if checkpoint is None:
        return failed
    with checkpoint.as_directory() as saved:
        for k, d in enumerate(dirs):
            mine = Path(saved) / d.name
            if (mine / DIVERGED).exists():
                step, error = (mine / DIVERGED).read_text().split("\t", 1)
                failed[k] = (int(step), error)
                shutil.copy(mine / DIVERGED, d / DIVERGED)
            elif (mine / CHECKPOINT).exists():
                shutil.copy(mine / CHECKPOINT, d / CHECKPOINT)
    return failed
