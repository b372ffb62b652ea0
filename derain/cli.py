"""What every command line of the project shares: one-line usage errors, exit codes, ``--set`` parsing,
logging set-up, and the single-run CLI that ``python -m derain.train`` and ``python -m derain.toy1d`` both are.

Exit codes: 0 done, 1 ran but some trials failed (sweeps), 2 bad input (one line on stderr, before any
work), 3 the training diverged.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from derain.config import parse_assignment
from derain.errors import DerainError
from derain.loop import CHECKPOINT, CONFIG, FIGURE, METRICS, NonFiniteLossError
from derain.scales import SCALE_NAMES
from derain.tables import metric_table

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


def setup_logging(quiet: bool = False, fmt: str = "%(asctime)s %(message)s") -> None:
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format=fmt)


def fail(err: Exception) -> int:
    """Print ``err`` as one line on stderr; the exit code of its kind."""
    print(f"error: {err}", file=sys.stderr)
    return EXIT_DIVERGED if isinstance(err, NonFiniteLossError) else EXIT_BAD_INPUT


def single_run_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The single-run CLI: --scale, --set (repeatable), --out, --device, --quiet."""
    p = OneLineParser(prog=prog, description=description)
    p.add_argument("--scale", choices=SCALE_NAMES, default=None, help="preset (default: gpu with CUDA, else cpu)")
    add_override_flag(p)
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def run_single(
    args: argparse.Namespace,
    make: Callable[[str | None, dict[str, Any]], Any],
    fit: Callable[..., dict[str, float]],
    seen: Callable[[Any], set[str]],
    blank: Any,
) -> int:
    """Build the config (``make(scale, overrides)``), ``fit`` it into ``--out``, print the metric table."""
    setup_logging(args.quiet)
    try:
        cfg = make(args.scale, parse_overrides(args.overrides, blank))
        metrics = fit(cfg, device=args.device, run_dir=args.out)
    except (DerainError, NonFiniteLossError) as err:
        return fail(err)
    print(metric_table(metrics, seen(cfg)))
    written = [f for f in (METRICS, CONFIG, FIGURE, CHECKPOINT) if (args.out / f).exists()]
    print(f"wrote {', '.join(written)} to {args.out}")
    return EXIT_OK
