"""Run a sweep: ``python sweeps/run.py --space balance`` (``--list`` shows every space and its hypothesis).

Ray Tune schedules the trials (locally, or on a cluster with ``--address``), Optuna searches where a space
samples, and every trial is tracked in MLflow from the driver. ``main(argv)`` is callable in-process and
returns the exit status: 0 done, 2 bad input, 1 the sweep ran but trials failed. Installed as ``derain-sweep``.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # run as a script: don't let sweeps/*.py shadow top-level modules
    _LAUNCHED = time.perf_counter()  # before the heavy imports, so that the start-up line counts them
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse

from derain.cli.common import (
    EXIT_OK,
    OneLineParser,
    add_override_flag,
    add_verbosity_flags,
    fail,
    setup_logging,
    verbosity,
)
from derain.config.presets import SCALE_NAMES
from derain.errors import DerainError
from sweeps.spaces import REGISTRY


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python sweeps/run.py", description=__doc__.splitlines()[0])
    p.add_argument("--space", help="search space (see --list)")
    p.add_argument("--list", action="store_true", help="list the spaces with their hypotheses and exit")
    p.add_argument("--scale", choices=SCALE_NAMES, help="preset (default: gpu if the cluster has GPUs, else cpu)")
    p.add_argument("--num-samples", type=int, help="trials to sample (sampled spaces) or seeds per grid point")
    add_override_flag(p, "applied to every trial")
    p.add_argument("--name", help="sweep name (default: <space>-<scale>-<timestamp>); --resume uses it")
    p.add_argument("--storage", default="runs/sweeps", help="Ray experiment storage: path or s3:// URI")
    p.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<cwd>/mlflow.db)"
    )
    p.add_argument(
        "--optuna-storage",
        help="RDB URL of the Optuna study (default: sqlite:///<storage>/<name>/optuna.db beside the Ray state)",
    )
    p.add_argument("--address", help="existing Ray cluster: the head's GCS host:port (6379 by default) or auto")
    p.add_argument("--resume", action="store_true", help="finish an interrupted sweep (--name, else the latest)")
    p.add_argument("--gpus-per-trial", type=float, help="GPUs per trial, fractions allowed (default: auto)")
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument("--max-concurrent", type=int, help="at most this many trials at once")
    p.add_argument(
        "--ensemble",
        type=int,
        help="a grid's points that share a model train as one trial of up to K members (1: off; default: 16 at "
        "the gpu scale, 1 at cpu and smoke, where stacking measured slower); sampled spaces: one trial each",
    )
    p.add_argument("--seed", type=int, default=0, help="seeds the searcher, training and data")
    p.add_argument("--dry-run", action="store_true", help="print the trials, resources, time and places; start nothing")
    add_verbosity_flags(p)
    return p


def list_spaces() -> str:
    return "\n".join(f"{name:<16}{space.summary}" for name, space in REGISTRY.items())


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; see the module docstring for exit codes."""
    args = build_parser().parse_args(argv)
    script_start = globals().get("_LAUNCHED") if argv is None else None  # set only when run as a script
    args.launched = script_start or time.perf_counter()
    args.command = shlex.join(["python", "sweeps/run.py", *(sys.argv[1:] if argv is None else argv)])
    setup_logging(verbosity(args))
    if args.list:
        print(list_spaces())
        return EXIT_OK
    try:
        from sweeps.sweep import run_sweep  # Ray, MLflow and Tune load only when a sweep runs

        return run_sweep(args)
    except DerainError as err:
        return fail(err)


if __name__ == "__main__":
    sys.exit(main())
