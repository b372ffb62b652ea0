"""One sweep, start to finish: validate everything, connect to Ray, run or resume the Tuner, summarise.

Order matters for bad input: the space, ``--set`` values and the tracking URI are checked before Ray starts;
storage and resources right after it connects, before any trial.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import logging
import math
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from derain.errors import DerainError
from sweeps.spaces import REGISTRY
from sweeps.spaces.base import Space
from sweeps.trial import TrialSpec

log = logging.getLogger("sweeps")


def base_overrides(space: Space, scale: str, pairs: list[str], seed: int, storage: str | None = None) -> dict[str, Any]:
    """Overrides every trial gets: seeds, the prior store under ``storage``, the space's fixed values at
    ``scale``, then the user's ``--set``."""
    from derain.config import Config
    from derain.toy1d.config import Toy1dConfig
    from derain.train import parse_overrides

    seeds = {"seed": seed, "content.seed" if space.task == "toy1d" else "data.seed": seed}
    if space.task == "derain" and storage and "://" not in storage:
        seeds["prior.store"] = f"{storage.rstrip('/')}/priors"  # every node sees the sweep's storage
    user = parse_overrides(pairs, Toy1dConfig() if space.task == "toy1d" else Config())
    grid, sampled = space.axes(scale)
    clash = sorted(set(user) & (set(grid) | set(sampled)))
    if clash:
        raise DerainError(f"--set {clash[0]} conflicts with the '{space.name}' space, which sweeps that key")
    return {**seeds, **space.fixed.get(scale, {}), **user}


def trial_configs(space: Space, spec: TrialSpec, scale: str) -> Iterator[Any]:
    """A config for every grid point combined with every choice and range end of the sampled axes."""
    from sweeps.search import grid_points
    from sweeps.trial import trial_config

    grid, sampled = space.axes(scale)
    corners = {key: list(args[0]) if kind == "choice" else list(args) for key, (kind, *args) in sampled.items()}
    for point in grid_points(grid) or [{}]:
        for corner in grid_points(corners) or [{}]:
            yield trial_config(spec, {**corner, **point})


def check_space_keys(space: Space, spec: TrialSpec, scale: str) -> None:
    """Every trial config the space can produce must be valid (fails before Ray starts, naming the key)."""
    for _ in trial_configs(space, spec, scale):
        pass


def check_tracking(uri: str) -> None:
    """A sqlite store needs a writable folder; a server must answer. DerainError otherwise."""
    if uri.startswith("sqlite:///"):
        folder = Path(uri.removeprefix("sqlite:///")).parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise DerainError(f"tracking URI {uri}: folder '{folder}' does not exist or is not writable")
        return
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient(uri).search_experiments(max_results=1)
    except Exception as err:  # noqa: BLE001 - whatever fails, tracking is unusable: say so before any trial
        raise DerainError(f"tracking URI {uri} is not usable: {str(err).splitlines()[0]}") from None


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)  # fmt: skip
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def resume_path(storage: str, space: str, name: str | None) -> str:
    """Experiment path to restore: ``--name`` under storage, else the newest restorable sweep of the space."""
    from ray import tune

    if name:
        path = f"{storage.rstrip('/')}/{name}"
        if not tune.Tuner.can_restore(path):
            raise DerainError(f"--resume: no sweep named '{name}' to resume under {storage}")
        return path
    found = sorted(Path(storage).glob(f"{space}-*"), key=lambda p: p.stat().st_mtime) if "://" not in storage else []
    resumable = [p for p in found if tune.Tuner.can_restore(str(p))]
    if not resumable:
        raise DerainError(f"--resume: nothing to resume for space '{space}' under {storage} (pass --name)")
    return str(resumable[-1])


SETTINGS = "derain_sweep.json"
SAVED = ("space", "scale", "overrides", "seed", "num_samples", "cpus_per_trial", "gpus_per_trial", "max_concurrent")


def save_settings(args: argparse.Namespace, experiment: str) -> None:
    """Record the launch settings beside Tune's state so that ``--resume`` rebuilds the same trials."""
    if "://" not in experiment:
        Path(experiment).mkdir(parents=True, exist_ok=True)
        (Path(experiment) / SETTINGS).write_text(json.dumps({k: getattr(args, k) for k in SAVED}, indent=2))


def load_settings(args: argparse.Namespace) -> None:
    """On ``--resume``: find the sweep and adopt its launch settings; refuse conflicting ones."""
    if not args.space and not args.name:
        raise DerainError("--resume needs --space (resumes its latest sweep) or --name")
    path = resume_path(args.storage, args.space, args.name)
    file = Path(path) / SETTINGS
    if not file.exists():
        raise DerainError(f"--resume: {path} has no {SETTINGS}; it was not started by sweeps/run.py")
    saved = json.loads(file.read_text())
    if args.space and args.space != saved["space"]:
        raise DerainError(f"--resume: sweep {Path(path).name} is of space '{saved['space']}', not '{args.space}'")
    for key in ("scale", "overrides"):
        if getattr(args, key) and getattr(args, key) != saved[key]:
            raise DerainError(f"--resume reuses the sweep's own --{key} ({saved[key]}); drop --{key}")
    for key in SAVED:
        setattr(args, key, saved[key])
    args.name = Path(path).name


def _reporter(space: Space, axes: list[str]):
    from ray.tune import CLIReporter

    short = {c: c.removeprefix("eval/") for c in space.columns}
    return CLIReporter(metric_columns=short, parameter_columns={a: a.split(".")[-1] for a in axes},
                       max_report_frequency=30, print_intermediate_tables=True, sort_by_metric=False)  # fmt: skip


def _max_reports(spec: TrialSpec) -> int:
    from sweeps.trial import trial_config

    t = trial_config(spec, {}).train
    return math.ceil(t.iterations / t.eval_every)


def _tuner(args: argparse.Namespace, space: Space, spec: TrialSpec, storage: str, name: str, uri: str):
    from ray import tune

    from sweeps.cluster import trial_resources
    from sweeps.search import plan
    from sweeps.shared import BankStore
    from sweeps.tracking import MlflowSweepCallback
    from sweeps.trial import flat_params, train_trial

    small = space.task == "toy1d" or args.scale in ("smoke", "cpu")
    resources = trial_resources(args.cpus_per_trial, args.gpus_per_trial, small)
    spec = replace(spec, bank_store=BankStore.remote() if space.task == "derain" else None)
    trainable = tune.with_resources(tune.with_parameters(train_trial, spec=spec), resources)
    if args.resume:
        path = f"{storage.rstrip('/')}/{name}"
        log.info("resuming %s", path)
        return tune.Tuner.restore(path, trainable=trainable), name
    p = plan(space, args.scale, args.seed, args.num_samples, _max_reports(spec))
    grid, sampled = space.axes(args.scale)
    tags = {"space": space.name, "scale": args.scale, "git_commit": git_commit(), "seed": str(args.seed),
            "ray_experiment": f"{storage.rstrip('/')}/{name}", "hypothesis": space.summary}  # fmt: skip
    callback = MlflowSweepCallback(uri, space.name, name, tags,
                                   functools.partial(flat_params, replace(spec, bank_store=None)))  # fmt: skip
    tune_config = tune.TuneConfig(search_alg=p.search_alg, scheduler=p.scheduler, num_samples=p.num_samples,
                                  max_concurrent_trials=args.max_concurrent, reuse_actors=True, metric=p.metric,
                                  mode=p.mode)  # fmt: skip
    run_config = tune.RunConfig(name=name, storage_path=storage, failure_config=tune.FailureConfig(max_failures=2),
                                checkpoint_config=tune.CheckpointConfig(num_to_keep=2), callbacks=[callback],
                                progress_reporter=_reporter(space, [*grid, *sampled]), verbose=1)  # fmt: skip
    tuner = tune.Tuner(trainable, param_space=p.param_space, tune_config=tune_config, run_config=run_config)
    save_settings(args, f"{storage.rstrip('/')}/{name}")
    return tuner, name


def _summary(results: Any, space: Space, scale: str, uri: str, name: str) -> None:
    import pandas as pd

    from sweeps.summary import summary_table
    from sweeps.tracking import log_summary, ui_command

    grid, sampled = space.axes(scale)
    frame = results.get_dataframe()
    title, rows = summary_table(frame, space, [*grid, *sampled])
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        print(f"\n{title}\n{rows.to_string(index=False) if len(rows) else ''}")
    log_summary(uri, space.name, name, title, rows)
    if "node_id" in frame:
        per_node = frame.groupby(frame["node_id"].fillna("?").str[:12])["trial_id"].count()
        print("trials per Ray node: " + ", ".join(f"{node} {count}" for node, count in per_node.items()))
    print(f"\nInspect the sweep: {ui_command(uri)}")


def _report(space: Space, name: str, uri: str, storage: str) -> None:
    """Run analysis/report.py on the finished sweep, in its own process (analysis imports sweeps, not back)."""
    import sys

    out = f"{storage.rstrip('/')}/{name}/report"
    cmd = [sys.executable, "-m", "analysis.report", "--experiment", space.name, "--sweep", name, "--tracking-uri", uri,
           "--out", out]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    print(done.stdout + (done.stderr if done.returncode else ""))
    if done.returncode:
        log.error("the report failed (exit %d); rerun: %s", done.returncode, " ".join(cmd))


def _check_numbers(args: argparse.Namespace) -> None:
    bounds = (
        ("--num-samples", args.num_samples, 1),
        ("--max-concurrent", args.max_concurrent, 1),
        ("--cpus-per-trial", args.cpus_per_trial, 1e-9),
        ("--gpus-per-trial", args.gpus_per_trial, 0),
    )
    for flag, value, low in bounds:
        if value is not None and value < low:
            raise DerainError(f"{flag} must be >= {low:g}, got {value}")


def run_sweep(args: argparse.Namespace) -> int:
    """Validate, connect, run; returns 0 when every trial finished, 1 when some failed."""
    import ray

    from sweeps.cluster import check_storage, cluster_gpus, connect
    from sweeps.priors import pretrain_priors
    from sweeps.tracking import default_tracking_uri

    _check_numbers(args)
    if args.resume:
        load_settings(args)
    if not args.space or args.space not in REGISTRY:
        raise DerainError(f"unknown space '{args.space}' (known: {', '.join(REGISTRY)})")
    space = REGISTRY[args.space]
    provisional = args.scale or "cpu"
    spec = TrialSpec(space.task, provisional, base_overrides(space, provisional, args.overrides, args.seed))
    check_space_keys(space, spec, provisional)
    uri = args.tracking_uri or default_tracking_uri()
    check_tracking(uri)
    started = connect(args.address)
    try:
        args.scale = args.scale or ("gpu" if cluster_gpus() else "cpu")
        storage = check_storage(args.storage)
        base = base_overrides(space, args.scale, args.overrides, args.seed, storage)
        spec = TrialSpec(space.task, args.scale, base, space.objectives)
        configs = list(trial_configs(space, spec, args.scale))
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        name = args.name or f"{space.name}-{args.scale}-{stamp}"
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the classic table honours our few columns
        # Checkpointing at every evaluation is deliberate (resume); Tune's advice to do it less is noise here.
        os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
        tuner, name = _tuner(args, space, spec, storage, name, uri)
        pretrain_priors(configs, args.cpus_per_trial, args.gpus_per_trial)
        results = tuner.fit()
        _summary(results, space, args.scale, uri, name)
        if space.report:
            _report(space, name, uri, storage)
        failed = sum(1 for r in results if r.error is not None)
        print(f"{len(results)} trials, {failed} failed; Ray experiment: {storage.rstrip('/')}/{name}")
        return 1 if failed else 0
    finally:
        if started:
            ray.shutdown()
