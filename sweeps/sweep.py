"""One sweep, start to finish: validate everything, build the plan, connect to Ray, run or resume the Tuner,
summarise.

Order matters for bad input: the flags, the space, the tracking URI, the storage and (when the scale is
known) every trial config are checked before Ray starts; the cluster's resources right after it connects,
before any trial. Without ``--scale`` on an ``--address`` cluster the scale comes from the cluster's GPUs, so
the plan is built right after connecting.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import functools
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import ray
from mlflow.tracking import MlflowClient
from ray import tune
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

from derain.cli.common import EXIT_FAILED, EXIT_OK
from derain.config.presets import SMALL_SCALES
from derain.engine.device import default_scale
from derain.errors import one_line, redact
from derain.tasks import TASKS
from sweeps import search
from sweeps.cluster import (
    check_shared_storage,
    cluster_gpus,
    concurrent_slots,
    connect,
    resolve_storage,
    trial_resources,
)
from sweeps.dryrun import describe
from sweeps.lock import SweepLock, check_not_running
from sweeps.members import failed_members, member_rows
from sweeps.mlflow_layout import log_summary
from sweeps.names import NameCreator
from sweeps.plan import Settings, SweepPlan, build_plan, ensembles, flat_params
from sweeps.preflight import (
    check_new_sweep,
    check_numbers,
    check_study_storage,
    check_tracking,
    git_commit,
    stored_settings,
)
from sweeps.priors import PriorTasks, PriorWatch, start_priors
from sweeps.results import (
    GIT_TAG,
    NOTE_TAG,
    SCALE_TAG,
    SETTINGS,
    SPACE_TAG,
    STUDY_TAG,
    check_sweep_name,
    default_tracking_uri,
    experiment_path,
    is_uri,
    parent_note,
    ui_command,
)
from sweeps.shared import BankStore
from sweeps.spaces import get_space
from sweeps.startup import StartupClock, SweepReporter
from sweeps.summary import summary_table
from sweeps.tracking import MlflowSweepCallback
from sweeps.trial import train_trial

log = logging.getLogger("sweeps")
_USER_MAX_PENDING = os.environ.get("TUNE_MAX_PENDING_TRIALS_PG")  # a user's own setting wins over ours


def _sweep_plan(
    settings: Settings, name: str | None, storage: str, uri: str, command: str, check: bool = True
) -> SweepPlan:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    plan = build_plan(settings, name or f"{settings.space}-{settings.scale}-{stamp}", storage, uri)
    plan = dataclasses.replace(plan, command=command)
    if plan.study and check:
        check_study_storage(plan.study.storage)
    return plan


def _lock(plan: SweepPlan) -> contextlib.AbstractContextManager:
    """One driver per sweep (``sweeps.lock``); object-store sweeps have no folder to hold a lock in."""
    return SweepLock(plan.experiment, plan.name) if not is_uri(plan.experiment) else contextlib.nullcontext()


def _dry_run(settings: Settings, name: str | None, storage: str, uri: str, address: str | None) -> int:
    """Print what the sweep would run (``dryrun.describe``); nothing starts and nothing is written."""
    print(describe(_sweep_plan(settings, name, storage, uri, "", check=False), address))
    return EXIT_OK


def _reporter(plan: SweepPlan, trials: int) -> SweepReporter:
    short = {c: c.removeprefix("eval/") for c in plan.space.columns}
    return SweepReporter(
        trials,
        metric_columns=short,
        parameter_columns={a: a.split(".")[-1] for a in plan.axes.keys},
        max_report_frequency=30,
        print_intermediate_tables=True,
        sort_by_metric=False,
    )


def parent_tags(plan: SweepPlan) -> dict[str, str]:
    """The parent run's tags; MLflow shows them to everyone, so no URL in them carries a password."""
    s, space = plan.settings, plan.space
    return {
        SPACE_TAG: space.name,
        SCALE_TAG: plan.scale,
        GIT_TAG: git_commit(),
        "seed": str(s.seed),
        "ray_experiment": plan.experiment,
        "hypothesis": space.summary,
        NOTE_TAG: parent_note(space.hypothesis, plan.command),
        **({STUDY_TAG: redact(plan.study.storage)} if plan.study else {}),  # the report is given it whole
    }


def _configs(
    plan: SweepPlan, p: search.TuneSetup, clock: StartupClock, priors: PriorTasks
) -> tuple[tune.TuneConfig, tune.RunConfig]:
    s, space = plan.settings, plan.space
    tags = parent_tags(plan)
    params = functools.partial(flat_params, plan.spec)
    callback = MlflowSweepCallback(plan.tracking_uri, space.name, plan.name, tags, params, plan.final_step)
    tune_config = tune.TuneConfig(
        search_alg=p.search_alg,
        scheduler=p.scheduler,
        num_samples=p.num_samples,
        max_concurrent_trials=s.max_concurrent,
        reuse_actors=True,
        trial_name_creator=NameCreator(space.task),
        metric=p.metric,
        mode=p.mode,
    )
    run_config = tune.RunConfig(
        name=plan.name,
        storage_path=plan.storage,
        # Ray's JSON and CSV files are what --ray-dir analysis and resume read; TensorBoard files nobody does.
        callbacks=[JsonLoggerCallback(), CSVLoggerCallback(), callback, clock, PriorWatch(priors)],
        failure_config=tune.FailureConfig(max_failures=2),
        # Tune saves its experiment state every 10 s or more ("auto"); with 2 checkpoints kept, a trial that
        # evaluates faster than that had its recorded checkpoint deleted, and after a kill its resume failed
        # ("Could not recover from checkpoint"). The state now follows every second (a few ms per save), and
        # 4 checkpoints are kept.
        checkpoint_config=tune.CheckpointConfig(num_to_keep=4),
        progress_reporter=_reporter(plan, p.trials),
        verbose=1,
    )
    return tune_config, run_config


def _tuner(plan: SweepPlan, resume: bool, clock: StartupClock, priors: PriorTasks) -> tune.Tuner:
    """A new Tuner for the plan (its settings saved beside it), or the interrupted one restored."""
    s = plan.settings
    small = TASKS[plan.space.task].small or plan.scale in SMALL_SCALES
    resources = trial_resources(s.cpus_per_trial, s.gpus_per_trial, small)
    # Tune keeps one trial pending for a searcher unless told more: with short trials the first worker then
    # takes every trial while the others are still starting. As many pending trials as can run at once.
    pending = _USER_MAX_PENDING or str(s.max_concurrent or concurrent_slots(resources))
    os.environ["TUNE_MAX_PENDING_TRIALS_PG"] = pending
    store = BankStore.remote() if TASKS[plan.space.task].banks else None
    spec = dataclasses.replace(plan.spec, bank_store=store, priors=priors.refs)
    trainable = tune.with_resources(tune.with_parameters(train_trial, spec=spec), resources)
    if resume:
        log.info("resuming %s", plan.experiment)
        return tune.Tuner.restore(plan.experiment, trainable=trainable)
    samples = plan.space.samples(plan.scale)
    where = (plan.max_reports, plan.final_step, plan.study)
    p = search.tune_setup(plan.space, plan.axes, samples, s.seed, s.num_samples, *where, ensembles(plan))
    tune_config, run_config = _configs(plan, p, clock, priors)
    tuner = tune.Tuner(trainable, param_space=p.param_space, tune_config=tune_config, run_config=run_config)
    if not is_uri(plan.experiment):
        Path(plan.experiment).mkdir(parents=True, exist_ok=True)
        (Path(plan.experiment) / SETTINGS).write_text(s.to_json())
    return tuner


def _summary(results: Any, plan: SweepPlan) -> None:
    frame = member_rows(results.get_dataframe())  # an ensemble trial is a row per member
    title, rows = summary_table(frame, plan.space, plan.axes.keys, plan.final_step)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        print(f"\n{title}\n{rows.to_string(index=False) if len(rows) else ''}")
    log_summary(plan.tracking_uri, plan.space.name, plan.name, title, rows)
    if "node_id" in frame:
        per_node = frame.groupby(frame["node_id"].fillna("?").str[:12])["trial_id"].count()
        print("trials per Ray node: " + ", ".join(f"{node} {count}" for node, count in per_node.items()))
    print(f"\nInspect the sweep: {ui_command(plan.tracking_uri, _experiment_id(plan))}")
    if plan.dashboard_command:
        print(f"Inspect the search: {plan.dashboard_command}  (pip install -e '.[dashboard]')")


def _experiment_id(plan: SweepPlan) -> str | None:
    exp = MlflowClient(plan.tracking_uri).get_experiment_by_name(plan.space.name)
    return exp.experiment_id if exp else None


def _report(plan: SweepPlan) -> None:
    """Run analysis/report.py on the finished sweep, in its own process (analysis imports sweeps, not back)."""
    where = ["--tracking-uri", plan.tracking_uri, "--out", f"{plan.experiment}/report"]
    where += ["--optuna-storage", plan.study.storage] if plan.study else []  # MLflow's tag has no password
    cmd = [sys.executable, "-m", "analysis.report", "--experiment", plan.space.name, "--sweep", plan.name, *where]
    done = subprocess.run(cmd, capture_output=True, text=True)
    print(done.stdout + (done.stderr if done.returncode else ""))
    if done.returncode:
        log.error("the report failed (exit %d); rerun: %s", done.returncode, redact(" ".join(cmd)))


def _run(plan: SweepPlan, resume: bool, clock: StartupClock) -> int:
    """Run the plan's trials on the connected cluster; 0 when every trial finished, 1 when some failed."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the classic table honours our few columns
    if not resume:  # loggers as _configs lists them; a sweep begun before that keeps Tune's defaults on resume
        os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    # Checkpointing at every evaluation is deliberate (resume); Tune's advice to do it less is noise here.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "1")  # see CheckpointConfig in _configs
    priors, wait = start_priors(list(plan.configs), plan.settings.cpus_per_trial, plan.settings.gpus_per_trial)
    if wait:  # every trial needs a prior: nothing could run beside its pre-training
        ray.get(list(priors.refs.values()))
        priors.log_when_done()
        clock.mark("content priors")
    tuner = _tuner(plan, resume, clock, priors)
    clock.mark("Tune set-up")
    results = tuner.fit()
    try:  # the summary and the report read MLflow; the closing line below prints whatever they meet
        if plan.study and (closed := search.close_abandoned(plan.study)):
            log.warning("closed %d Optuna trial(s) asked for and never run as FAIL", closed)
        _summary(results, plan)
        if plan.space.report:
            _report(plan)
    except Exception as err:  # noqa: BLE001 - said in one line; Ray's experiment folder holds every result
        log.error("the summary failed: %s", one_line(err))
    failed = sum(1 for r in results if r.error is not None)
    runs, lost = failed_members(results)  # ensembles: the members that diverged while the others finished
    alone = f" ({runs} runs, {lost} failed, in ensembles)" if runs else ""
    print(f"{len(results)} trials, {failed} failed{alone}; Ray experiment: {plan.experiment}")
    return EXIT_FAILED if failed or lost else EXIT_OK


def _checked_settings(args: argparse.Namespace, dry: bool) -> tuple[Settings, str | None, str, str]:
    """(settings, name, storage, tracking URI) after every check that needs no Ray; a dry run writes nothing."""
    check_numbers(args)
    if args.name:
        check_sweep_name(args.name)
    if not args.resume:
        get_space(args.space)
    storage = resolve_storage(args.storage, create=False)
    if args.name and not is_uri(storage):
        check_not_running(experiment_path(storage, args.name), args.name)
    settings, name = stored_settings(args, storage) if args.resume else (Settings.from_args(args), args.name)
    uri = args.tracking_uri or settings.tracking_uri or default_tracking_uri()  # a resume keeps the sweep's store
    if not dry:  # the store first: a broken one must leave no storage folder behind
        check_tracking(uri)
        storage = resolve_storage(args.storage)
    settings = dataclasses.replace(settings, tracking_uri=uri)
    if name and not args.resume and not dry:
        check_new_sweep(storage, name, uri, settings.space)
    return settings, name, storage, uri


def run_sweep(args: argparse.Namespace) -> int:
    """Validate, plan, connect, run; returns 0 when every trial finished, 1 when some failed."""
    clock = StartupClock(getattr(args, "launched", time.perf_counter()))
    clock.mark("imports")
    dry = getattr(args, "dry_run", False)
    settings, name, storage, uri = _checked_settings(args, dry)
    known = settings.scale or (None if args.address else default_scale())
    command = getattr(args, "command", "")
    if dry:
        return _dry_run(dataclasses.replace(settings, scale=known or default_scale()), name, storage, uri, args.address)
    plan = _sweep_plan(dataclasses.replace(settings, scale=known), name, storage, uri, command) if known else None
    held = contextlib.ExitStack()  # the sweep's driver lock, taken before Ray starts when the plan is known
    if plan is not None:
        held.enter_context(_lock(plan))
    clock.mark("checks")
    try:
        started = connect(args.address)
    except BaseException:
        held.close()
        raise
    clock.mark("Ray")
    try:
        with held:
            if plan is None:
                scale = "gpu" if cluster_gpus() else "cpu"
                plan = _sweep_plan(dataclasses.replace(settings, scale=scale), name, storage, uri, command)
                held.enter_context(_lock(plan))
            check_shared_storage(plan.storage)
            return _run(plan, args.resume, clock)
    finally:
        if started:
            ray.shutdown()
