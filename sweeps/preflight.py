"""Pre-flight checks of a sweep, run before Ray starts: numbers, the tracking store, the Optuna storage, and
what ``--resume`` finds under the storage. Each failure is a ``DerainError`` of one line naming the input.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

import optuna
from mlflow.tracking import MlflowClient
from ray import tune

from derain.errors import DerainError
from sweeps.plan import Settings
from sweeps.results import SETTINGS, experiment_path


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
