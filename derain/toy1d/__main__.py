"""Single 1D run: ``python -m derain.toy1d --scale cpu --set content.terms=32 --set content.count=1024 --out runs/y``.

Prints the metric table and writes metrics.json, history.jsonl, config.json, checkpoint.pt and a signal plot into --out.
"""

from __future__ import annotations

import sys

from derain.cli.single_run import run_single, single_run_parser
from derain.tasks import TASKS
from derain.toy1d.fit import seen_streaks


def main(argv: list[str] | None = None) -> int:
    """0 ok, 2 bad input, 3 diverged."""
    parser = single_run_parser("python -m derain.toy1d", "Train one 1D function denoiser.")
    return run_single(parser.parse_args(argv), TASKS["toy1d"], seen_streaks)


if __name__ == "__main__":
    sys.exit(main())
