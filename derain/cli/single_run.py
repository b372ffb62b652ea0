"""The single-run CLIs (``python -m derain.train``, ``python -m derain.toy1d``): flags, a logged trial's
``config.json`` as the starting point (``--config``), MLflow tracking through a plugin (``--tracking-uri``).

``derain`` never imports MLflow: a tracker comes from the ``derain.trackers`` entry point group (the sweeps
package registers ``mlflow``), and it logs a single run in the same layout as a sweep's child run.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

import torch

from derain.cli.common import (
    EXIT_OK,
    OneLineParser,
    add_override_flag,
    add_verbosity_flags,
    fail,
    parse_overrides,
    setup_logging,
    verbosity,
)
from derain.config.presets import SCALE_NAMES
from derain.config.schema import flatten, to_dict
from derain.engine.loop import CHECKPOINT, CONFIG, FIGURE, HISTORY, METRICS, NonFiniteLossError
from derain.errors import ConfigError, DerainError
from derain.evaluation.tables import metric_table
from derain.tasks import TaskKind

TRACKERS = "derain.trackers"  # entry point group: name -> class(uri, experiment) implementing RunTracker


class RunTracker(Protocol):
    """What a single run tells a tracking store: its start, each evaluation, its end."""

    def start(self, task: str, config: dict[str, Any], overrides: dict[str, Any]) -> None: ...

    def on_eval(self, step: int, metrics: dict[str, float], run_dir: Path) -> None: ...

    def finish(self, status: str, run_dir: Path) -> None: ...


def single_run_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The single-run CLI: --scale, --config, --set (repeatable), --out, --device, --tracking-uri, -v / -q."""
    p = OneLineParser(prog=prog, description=description)
    p.add_argument("--scale", choices=SCALE_NAMES, default=None, help="preset (default: gpu with CUDA, else cpu)")
    p.add_argument("--config", type=Path, help="start from a logged run's config.json (then --set on top)")
    add_override_flag(p)
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument(
        "--threads",
        type=int,
        help="CPU threads (a sweep trial runs with --cpus-per-trial, 1 by default: "
        "the same count reruns it bit for bit; another count differs in the last digits)",
    )
    p.add_argument("--tracking-uri", help="also log the run to MLflow (sqlite:///path/mlflow.db or http://...)")
    p.add_argument("--experiment", default="single-runs", help="MLflow experiment (a space's name: beside its sweeps)")
    add_verbosity_flags(p)
    return p


def config_file(path: Path, blank: Any) -> dict[str, Any]:
    """A run's ``config.json`` (nested, as a run folder holds it, or flat with dotted keys, as a sweep logs a
    trial without checkpoint) as overrides of every field; ConfigError naming the file otherwise."""
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise ConfigError(f"--config {path}: cannot read it ({err.strerror or err})") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"--config {path}: not JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a JSON object of config fields")
    data.pop("task", None)
    sections = {key.split(".")[0] for key in data}
    unknown = sorted(sections - set(vars(blank)))
    if unknown:
        raise ConfigError(
            f"--config {path}: not a config of this task (unknown '{unknown[0]}'; a 1D run reruns "
            "with python -m derain.toy1d, a 2D run with python -m derain.train)"
        )
    return flatten(data)


def load_tracker(uri: str, experiment: str) -> RunTracker:
    """The registered MLflow tracker for ``uri`` (it checks the store before any training)."""
    found = {ep.name: ep for ep in entry_points(group=TRACKERS)}
    if "mlflow" not in found:
        raise DerainError("--tracking-uri needs the sweeps package's MLflow tracker: pip install -e .")
    return found["mlflow"].load()(uri, experiment)


def run_single(args: argparse.Namespace, task: TaskKind, seen: Callable[[Any], set[str]]) -> int:
    """Build ``task``'s config (at ``--scale``, else the task's default scale), fit it into ``--out``, print the
    metric table (``seen(cfg)``: the degradations inside its training ranges, starred)."""
    setup_logging(verbosity(args))
    try:
        if args.threads is not None:
            if args.threads < 1:
                raise ConfigError(f"--threads must be >= 1, got {args.threads}")
            torch.set_num_threads(args.threads)
        blank = task.blank()
        overrides = parse_overrides(args.overrides, blank)
        start = config_file(args.config, blank) if args.config else {}
        cfg = task.make(args.scale or task.default_scale(), {**start, **overrides})
        tracker = load_tracker(args.tracking_uri, args.experiment) if args.tracking_uri else None
        metrics = _fit_tracked(cfg, task, args, tracker, overrides)
    except (DerainError, NonFiniteLossError) as err:
        return fail(err)
    print(metric_table(metrics, seen(cfg)))
    written = [f for f in (METRICS, HISTORY, CONFIG, FIGURE, CHECKPOINT) if (args.out / f).exists()]
    print(f"wrote {', '.join(written)} to {args.out}")
    return EXIT_OK


def _fit_tracked(
    cfg: Any, task: TaskKind, args: argparse.Namespace, tracker: RunTracker | None, overrides: dict
) -> dict[str, float]:
    """``task.fit`` into ``--out``; with a tracker, the run is opened first and closed FAILED if training raises."""
    if tracker is None:
        return task.fit(cfg, device=args.device, run_dir=args.out)
    tracker.start(task.name, to_dict(cfg), overrides)

    def on_eval(step: int, metrics: dict[str, float]) -> None:
        tracker.on_eval(step, metrics, args.out)

    try:
        metrics = task.fit(cfg, device=args.device, run_dir=args.out, on_eval=on_eval)
    except BaseException:
        tracker.finish("FAILED", args.out)
        raise
    tracker.finish("FINISHED", args.out)
    return metrics
