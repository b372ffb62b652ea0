"""What every command line of the project shares (the sweep's and the single runs'): one-line usage errors, exit
codes, ``--set`` parsing, logging set-up. The single-run CLIs themselves are ``derain.cli.single_run``.

Exit codes: 0 done, 1 ran but some trials failed (sweeps), 2 bad input (one line on stderr, before any
work), 3 the training diverged.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterable
from typing import Any

from derain.config.schema import parse_assignment
from derain.engine.loop import NonFiniteLossError
from derain.errors import redact

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_DIVERGED = 0, 1, 2, 3


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line instead of usage + message."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def add_override_flag(p: argparse.ArgumentParser, scope: str = "") -> None:
    """``--set KEY=VALUE`` (repeatable) into ``args.overrides``; ``scope`` says what it applies to."""
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=" ".join(filter(None, ("config override", scope))) + ", repeatable, e.g. --set data.num_backgrounds=64",
    )


def parse_overrides(pairs: Iterable[str], blank: Any) -> dict[str, Any]:
    """``["a.b=1", ...]`` -> ``{"a.b": 1, ...}``, typed by the fields of ``blank`` (a default root config)."""
    merged: dict[str, Any] = {}
    for pair in pairs:
        merged.update(parse_assignment(pair, blank))
    return merged


PROJECT_LOGGERS = ("derain", "sweeps", "analysis")
NOISY_LIBRARIES = ("mlflow", "ray", "alembic", "optuna", "urllib3", "matplotlib", "PIL", "filelock")


def setup_logging(verbosity: int = 0, fmt: str = "%(asctime)s %(name)s: %(message)s") -> None:
    """The project's loggers at INFO and third parties at WARNING; each ``-v`` (verbosity +1) lowers both one
    level, each ``-q`` (-1) raises both. Safe to call again (in-process CLIs in tests): it replaces only the
    handler it added, leaving others' (pytest's capture) in place."""
    project = min(max(logging.INFO - 10 * verbosity, logging.DEBUG), logging.CRITICAL)
    others = min(max(logging.WARNING - 10 * verbosity, logging.DEBUG), logging.CRITICAL)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "derain_cli", False)]:  # ours from an earlier call
        root.removeHandler(handler)
    handler = logging.StreamHandler()  # the current sys.stderr, so that pytest's capture sees in-process CLIs
    handler.setFormatter(logging.Formatter(fmt))
    handler.derain_cli = True
    root.addHandler(handler)
    root.setLevel(others)
    for name in PROJECT_LOGGERS:
        logging.getLogger(name).setLevel(project)
    # Libraries that set their own logger's level (so the root's does not reach them): MLflow reads its level
    # from the environment when imported, Ray from ray.init (sweeps.cluster passes the root's level).
    os.environ["MLFLOW_LOGGING_LEVEL"] = logging.getLevelName(others)
    for name in NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(others)


def worker_logging() -> None:
    """In a Ray worker: the project's INFO lines (progress of long phases) go to stderr, which Ray forwards to
    the driver's terminal; the worker's root logger and third parties are left as Ray set them."""
    for name in PROJECT_LOGGERS:
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def add_verbosity_flags(p: argparse.ArgumentParser) -> None:
    """``-v`` / ``-q`` (repeatable), read back with ``verbosity(args)``."""
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log lines (repeatable)")
    p.add_argument("-q", "--quiet", action="count", default=0, help="fewer log lines: warnings only (repeatable)")


def verbosity(args: argparse.Namespace) -> int:
    """``-v`` count minus ``-q`` count: 0 is the default, positive more lines, negative fewer."""
    return args.verbose - args.quiet


def fail(err: Exception) -> int:
    """Print ``err`` as one line on stderr; the exit code of its kind."""
    print(f"error: {redact(str(err))}", file=sys.stderr)  # one line, credentials in URIs hidden
    return EXIT_DIVERGED if isinstance(err, NonFiniteLossError) else EXIT_BAD_INPUT
