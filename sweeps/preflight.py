"""Pre-flight checks of a sweep, run before Ray starts: numbers, the tracking store, the Optuna storage, and
what ``--resume`` finds under the storage. Each failure is a ``DerainError`` of one line naming the input.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sqlite3
import subprocess
import threading
from pathlib import Path

import optuna
from mlflow.tracking import MlflowClient
from ray import tune

from derain.errors import DerainError, one_line, redact
from sweeps.plan import Settings
from sweeps.results import SETTINGS, experiment_path, is_uri, parent_run, sqlite_path


def check_numbers(args: argparse.Namespace) -> None:
    """Counts and resources must be positive; DerainError naming the flag."""
    bounds = (
        ("--num-samples", args.num_samples, 1),
        ("--max-concurrent", args.max_concurrent, 1),
        ("--ensemble", getattr(args, "ensemble", None), 1),
        ("--cpus-per-trial", args.cpus_per_trial, 1e-9),
        ("--gpus-per-trial", args.gpus_per_trial, 0),
    )
    for flag, value, low in bounds:
        if value is not None and value < low:
            raise DerainError(f"{flag} must be >= {low:g}, got {value}")


PROBE_S = 10.0  # an unusable tracking store fails within this, whatever it does
SQLITE_HEADER = b"SQLite format 3\x00"


def bound_mlflow_retries() -> None:
    """No MLflow write may stall a sweep for minutes: one HTTP retry with a 10 s timeout, and 3 attempts (not
    10 with exponential backoff, 1.8 minutes) to open a database engine. MLflow has no setting for the latter,
    so its module constant is lowered."""
    from mlflow.store.db import utils as db_utils

    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    db_utils.MAX_RETRY_COUNT = min(db_utils.MAX_RETRY_COUNT, 3)


def check_tracking(uri: str) -> None:
    """Open the tracking store for real before any work: create or migrate its schema, write and delete a
    probe tag. DerainError of one line (credentials hidden) within ``PROBE_S`` seconds otherwise."""
    bound_mlflow_retries()
    shown = redact(uri)
    if database := sqlite_path(uri):
        _check_sqlite_file(database, shown)
    done: list[BaseException | None] = []
    worker = threading.Thread(target=lambda: done.append(_probe(uri)), daemon=True, name="tracking-probe")
    with _silenced(("mlflow", "urllib3", "alembic", "sqlalchemy")):  # their retry warnings: the error says it
        worker.start()
        worker.join(PROBE_S)
    if not done:
        raise DerainError(f"tracking URI {shown} did not answer within {PROBE_S:.0f} s")
    if done[0] is not None:
        raise DerainError(f"tracking URI {shown} is not usable: {one_line(done[0])}")


def _check_sqlite_file(path: Path, shown: str) -> None:
    if path.is_dir():
        raise DerainError(f"tracking URI {shown}: '{path}' is a directory, not a database file")
    if not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
        raise DerainError(f"tracking URI {shown}: folder '{path.parent}' does not exist or is not writable")
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as f:
        if f.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise DerainError(f"tracking URI {shown}: '{path}' is not an SQLite database")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=PROBE_S)) as db:
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as err:
        raise DerainError(f"tracking URI {shown}: '{path}' is a damaged SQLite database ({err})") from None
    if verdict != "ok":
        raise DerainError(f"tracking URI {shown}: '{path}' is a damaged SQLite database ({verdict})")


def _probe(uri: str) -> BaseException | None:
    """Open the store (MLflow creates or migrates the schema), then write and delete a tag on an experiment."""
    try:
        client = MlflowClient(uri)
        found = client.search_experiments(max_results=1)
        if found:
            client.set_experiment_tag(found[0].experiment_id, "derain.probe", "write check")
            client.delete_experiment_tag(found[0].experiment_id, "derain.probe")
        return None
    except BaseException as err:  # noqa: BLE001 - handed to the caller, which words it
        return err


@contextlib.contextmanager
def _silenced(names: tuple[str, ...]):
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def check_study_storage(url: str) -> None:
    """The Optuna study's RDB storage opens (made if missing); DerainError naming the URL otherwise."""
    if database := sqlite_path(url):
        database.parent.mkdir(parents=True, exist_ok=True)
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
    found = sorted(Path(storage).glob(f"{space}-*"), key=lambda p: p.stat().st_mtime) if not is_uri(storage) else []
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
    asked = {"scale": args.scale, "overrides": tuple(args.overrides or ()), "tracking_uri": args.tracking_uri}
    for key, mine in asked.items():
        theirs = getattr(saved, key)
        if mine and theirs and mine != theirs:
            shown = list(theirs) if key == "overrides" else redact(str(theirs))
            flag = key.replace("_", "-")
            raise DerainError(f"--resume reuses the sweep's own --{flag} ({shown}); drop --{flag}")
    return saved, Path(path).name


def check_new_sweep(storage: str, name: str, uri: str, experiment: str) -> None:
    """A new sweep's ``--name`` must be unused, in the storage and in the tracking store: reusing it would
    merge two sweeps under one parent run and overwrite the first one's launch settings."""
    path = experiment_path(storage, name)
    used = (not is_uri(path) and (Path(path) / SETTINGS).exists()) or tune.Tuner.can_restore(path)
    if not used:
        used = parent_run(MlflowClient(uri), experiment, name) is not None
    if used:
        raise DerainError(f"sweep '{name}' exists; use --resume or another --name")
