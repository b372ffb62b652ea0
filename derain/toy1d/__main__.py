"""Single 1D run: ``python -m derain.toy1d --scale cpu --set content.terms=32 --set content.count=1024 --out runs/y``.

Prints the metric table and writes metrics.json, history.jsonl, config.json, checkpoint.pt and a signal plot into --out.
"""

from __future__ import annotations

import sys

from derain.single import run_single, single_run_parser
from derain.toy1d.config import Toy1dConfig
from derain.toy1d.fit import fit1d, seen_streaks
from derain.toy1d.scales import make_toy_config


def _make(scale: str | None, overrides: dict) -> Toy1dConfig:
    return make_toy_config(scale or "cpu", overrides)


def main(argv: list[str] | None = None) -> int:
    """0 ok, 2 bad input, 3 diverged."""
    parser = single_run_parser("python -m derain.toy1d", "Train one 1D function denoiser.")
    return run_single(parser.parse_args(argv), _make, fit1d, seen_streaks, Toy1dConfig())


if __name__ == "__main__":
    sys.exit(main())
