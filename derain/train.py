"""The 2D task's single-run CLI (``derain-train``), and the import path of its library::

    python -m derain.train --scale cpu --set data.num_backgrounds=64 --set rain.train=small --out runs/x

prints the final metric table and writes metrics.json, history.jsonl, config.json, triptych.png and checkpoint.pt.
``fit`` and ``build_task`` live in ``derain.image_task`` and are re-exported here (``from derain.train import
fit``), so that the CLI can go through the task registry (``derain.tasks``) without an import cycle.
"""

from __future__ import annotations

import sys

from derain.cli.single_run import run_single, single_run_parser
from derain.image_task import NonFiniteLossError, build_task, fit, seen_degradations
from derain.tasks import TASKS

__all__ = ["NonFiniteLossError", "build_task", "fit", "main", "seen_degradations"]


def main(argv: list[str] | None = None) -> int:
    """Single training run; 0 ok, 2 bad input, 3 diverged."""
    parser = single_run_parser("python -m derain.train", "Train one restorer and print its decoupled metrics.")
    return run_single(parser.parse_args(argv), TASKS["derain"], seen_degradations)


if __name__ == "__main__":
    sys.exit(main())
