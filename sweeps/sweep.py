"""One sweep, start to finish: validate everything, build the plan, connect to Ray, run or resume the Tuner,
summarise.

Order matters for bad input: the flags, the space, the tracking URI, the storage and (when the scale is
known) every trial config are checked before Ray starts; the cluster's resources right after it connects,
before any trial. Without ``--scale`` on an ``--address`` cluster the scale comes from the cluster's GPUs, so
the plan is built right after connecting.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import ray
from mlflow.tracking import MlflowClient
from ray import tune

from derain.device import default_scale
from derain.errors import DerainError
from derain.scales import SMALL_SCALES
from sweeps import search
from sweeps.cluster import check_shared_storage, cluster_gpus, connect, resolve_storage, trial_resources
from sweeps.plan import Settings, SweepPlan, build_plan, flat_params
from sweeps.priors import pretrain_priors
from sweeps.results import (
    GIT_TAG,
    NOTE_TAG,
    SCALE_TAG,
    SETTINGS,
    SPACE_TAG,
    STUDY_TAG,
    default_tracking_uri,
    experiment_path,
    ui_command,
)
from sweeps.shared import BankStore
from sweeps.spaces import get_space
from sweeps.summary import summary_table
from sweeps.tracking import MlflowSweepCallback, log_summary
from sweeps.trial import train_trial

log = logging.getLogger("sweeps")


def check_numbers(args: argparse.Namespace) -> None:
    """Counts and resources must be positive; DerainError naming the flag."""
    bounds = (
        ("--num-samples", args.num_samples, 1),
        ("--max-concurrent", args.max_concurrent, 1),
        ("--cpus-per-trial", args.cpus_per_trial, 1e-9),
        ("--gpus-per-trial", args.gpus_per_trial, 0),
    )
    for flag, value, low in bounds:
        if value is not None and value < low:
            raise DerainError(f"{flag} must be >= {low:g}, got {value}")


def check_tracking(uri: str) -> None:
    """A sqlite store needs a writable folder; a server must answer. DerainError otherwise."""
    if uri.startswith("sqlite:///"):
        folder = Path(uri.removeprefix("sqlite:///")).parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise DerainError(f"tracking URI {uri}: folder '{folder}' does not exist or is not writable")
        return
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    try:
        MlflowClient(uri).search_experiments(max_results=1)
    except Exception as err:  # noqa: BLE001 - whatever fails, tracking is unusable: say so before any trial
        raise DerainError(f"tracking URI {uri} is not usable: {str(err).splitlines()[0]}") from None


def check_study_storage(url: str) -> None:
    """The Optuna study's RDB storage opens (made if missing); DerainError naming the URL otherwise."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        optuna.storages.RDBStorage(url)
    except Exception as err:  # noqa: BLE001 - whatever fails, the study cannot be kept: say so before any trial
        raise DerainError(f"--optuna-storage {url} is not usable: {str(err).splitlines()[0]}") from None


def git_commit() -> str:
    """The commit of the code that runs the sweep ('unknown' outside a git checkout)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=here)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def resume_path(storage: str, space: str | None, name: str | None) -> str:
    """Experiment path to restore: ``--name`` under storage, else the newest restorable sweep of the space."""
    if name:
        path = experiment_path(storage, name)
        if not tune.Tuner.can_restore(path):
            raise DerainError(f"--resume: no sweep named '{name}' to resume under {storage}")
        return path
    found = sorted(Path(storage).glob(f"{space}-*"), key=lambda p: p.stat().st_mtime) if "://" not in storage else []
    resumable = [p for p in found if tune.Tuner.can_restore(str(p))]
    if not resumable:
        raise DerainError(f"--resume: nothing to resume for space '{space}' under {storage} (pass --name)")
    return str(resumable[-1])


def stored_settings(args: argparse.Namespace, storage: str) -> tuple[Settings, str]:
    """On ``--resume``: (the sweep's own launch settings, its name); refuses conflicting flags."""
    if not args.space and not args.name:
        raise DerainError("--resume needs --space (resumes its latest sweep) or --name")
    path = resume_path(storage, args.space, args.name)
    file = Path(path) / SETTINGS
    if not file.exists():
        raise DerainError(f"--resume: {path} has no {SETTINGS}; it was not started by sweeps/run.py")
    saved = Settings.from_json(file.read_text())
    if args.space and args.space != saved.space:
        raise DerainError(f"--resume: sweep {Path(path).name} is of space '{saved.space}', not '{args.space}'")
    asked = {"scale": args.scale, "overrides": tuple(args.overrides or ())}
    for key, mine in asked.items():
        theirs = getattr(saved, key)
        if mine and mine != theirs:
            shown = list(theirs) if key == "overrides" else theirs
            raise DerainError(f"--resume reuses the sweep's own --{key} ({shown}); drop --{key}")
    return saved, Path(path).name


def _plan(settings: Settings, name: str | None, storage: str, uri: str) -> SweepPlan:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    plan = build_plan(settings, name or f"{settings.space}-{settings.scale}-{stamp}", storage, uri)
    if plan.study:
        check_study_storage(plan.study.storage)
    return plan


def _reporter(plan: SweepPlan) -> tune.CLIReporter:
    short = {c: c.removeprefix("eval/") for c in plan.space.columns}
    return tune.CLIReporter(
        metric_columns=short,
        parameter_columns={a: a.split(".")[-1] for a in plan.axes.keys},
        max_report_frequency=30,
        print_intermediate_tables=True,
        sort_by_metric=False,
    )


def _configs(plan: SweepPlan, p: search.SearchPlan) -> tuple[tune.TuneConfig, tune.RunConfig]:
    s, space = plan.settings, plan.space
    tags = {
        SPACE_TAG: space.name,
        SCALE_TAG: plan.scale,
        GIT_TAG: git_commit(),
        "seed": str(s.seed),
        "ray_experiment": plan.experiment,
        "hypothesis": space.summary,
        NOTE_TAG: space.hypothesis.strip(),
        **({STUDY_TAG: plan.study.storage} if plan.study else {}),
    }
    params = functools.partial(flat_params, plan.spec)
    callback = MlflowSweepCallback(plan.tracking_uri, space.name, plan.name, tags, params, plan.final_step)
    tune_config = tune.TuneConfig(
        search_alg=p.search_alg,
        scheduler=p.scheduler,
        num_samples=p.num_samples,
        max_concurrent_trials=s.max_concurrent,
        reuse_actors=True,
        metric=p.metric,
        mode=p.mode,
    )
    run_config = tune.RunConfig(
        name=plan.name,
        storage_path=plan.storage,
        callbacks=[callback],
        failure_config=tune.FailureConfig(max_failures=2),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        progress_reporter=_reporter(plan),
        verbose=1,
    )
    return tune_config, run_config


def _tuner(plan: SweepPlan, resume: bool) -> tune.Tuner:
    """A new Tuner for the plan (its settings saved beside it), or the interrupted one restored."""
    s = plan.settings
    small = plan.space.task == "toy1d" or plan.scale in SMALL_SCALES
    resources = trial_resources(s.cpus_per_trial, s.gpus_per_trial, small)
    spec = dataclasses.replace(plan.spec, bank_store=BankStore.remote() if plan.space.task == "derain" else None)
    trainable = tune.with_resources(tune.with_parameters(train_trial, spec=spec), resources)
    if resume:
        log.info("resuming %s", plan.experiment)
        return tune.Tuner.restore(plan.experiment, trainable=trainable)
    samples = plan.space.samples(plan.scale)
    p = search.plan(
        plan.space, plan.axes, samples, s.seed, s.num_samples, plan.max_reports, plan.final_step, plan.study
    )
    tune_config, run_config = _configs(plan, p)
    tuner = tune.Tuner(trainable, param_space=p.param_space, tune_config=tune_config, run_config=run_config)
    if "://" not in plan.experiment:
        Path(plan.experiment).mkdir(parents=True, exist_ok=True)
        (Path(plan.experiment) / SETTINGS).write_text(s.to_json())
    return tuner


def _summary(results: Any, plan: SweepPlan) -> None:
    frame = results.get_dataframe()
    title, rows = summary_table(frame, plan.space, plan.axes.keys, plan.final_step)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        print(f"\n{title}\n{rows.to_string(index=False) if len(rows) else ''}")
    log_summary(plan.tracking_uri, plan.space.name, plan.name, title, rows)
    if "node_id" in frame:
        per_node = frame.groupby(frame["node_id"].fillna("?").str[:12])["trial_id"].count()
        print("trials per Ray node: " + ", ".join(f"{node} {count}" for node, count in per_node.items()))
    print(f"\nInspect the sweep: {ui_command(plan.tracking_uri)}")
    if plan.dashboard_command:
        print(f"Inspect the search: {plan.dashboard_command}  (pip install -e '.[dashboard]')")


def _report(plan: SweepPlan) -> None:
    """Run analysis/report.py on the finished sweep, in its own process (analysis imports sweeps, not back)."""
    where = ["--tracking-uri", plan.tracking_uri, "--out", f"{plan.experiment}/report"]
    cmd = [sys.executable, "-m", "analysis.report", "--experiment", plan.space.name, "--sweep", plan.name, *where]
    done = subprocess.run(cmd, capture_output=True, text=True)
    print(done.stdout + (done.stderr if done.returncode else ""))
    if done.returncode:
        log.error("the report failed (exit %d); rerun: %s", done.returncode, " ".join(cmd))


def _run(plan: SweepPlan, resume: bool) -> int:
    """Run the plan's trials on the connected cluster; 0 when every trial finished, 1 when some failed."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the classic table honours our few columns
    # Checkpointing at every evaluation is deliberate (resume); Tune's advice to do it less is noise here.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    tuner = _tuner(plan, resume)
    pretrain_priors(list(plan.configs), plan.settings.cpus_per_trial, plan.settings.gpus_per_trial)
    results = tuner.fit()
    _summary(results, plan)
    if plan.space.report:
        _report(plan)
    failed = sum(1 for r in results if r.error is not None)
    print(f"{len(results)} trials, {failed} failed; Ray experiment: {plan.experiment}")
    return 1 if failed else 0


def run_sweep(args: argparse.Namespace) -> int:
    """Validate, plan, connect, run; returns 0 when every trial finished, 1 when some failed."""
    check_numbers(args)
    if not args.resume:
        get_space(args.space)
    uri = args.tracking_uri or default_tracking_uri()
    check_tracking(uri)
    storage = resolve_storage(args.storage)
    settings, name = stored_settings(args, storage) if args.resume else (Settings.from_args(args), args.name)
    known = settings.scale or (None if args.address else default_scale())
    plan = _plan(dataclasses.replace(settings, scale=known), name, storage, uri) if known else None
    started = connect(args.address)
    try:
        if plan is None:
            scale = "gpu" if cluster_gpus() else "cpu"
            plan = _plan(dataclasses.replace(settings, scale=scale), name, storage, uri)
        check_shared_storage(plan.storage)
        return _run(plan, args.resume)
    finally:
        if started:
            ray.shutdown()
