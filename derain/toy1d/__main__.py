"""Single 1D run: ``python -m derain.toy1d --scale cpu --set content.terms=32 --set content.count=1024 --out runs/y``.

Prints the metric table and writes metrics.json and config.json (and checkpoint.pt) into --out.
"""

from __future__ import annotations

import json
import logging
import sys

from derain.config import to_dict
from derain.errors import DerainError
from derain.loop import NonFiniteLossError
from derain.report import metric_table
from derain.toy1d.config import Toy1dConfig, make_toy_config
from derain.toy1d.fit import build_task_1d, eval_streaks
from derain.toy1d.streaks import streak_spec
from derain.train import build_parser, parse_overrides, resolve_device


def main(argv: list[str] | None = None) -> int:
    """0 ok, 2 bad input, 3 diverged."""
    from derain.loop import run_loop

    args = build_parser("python -m derain.toy1d", "Train one 1D function denoiser.").parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s")
    try:
        cfg = make_toy_config(args.scale or "cpu", parse_overrides(args.overrides, Toy1dConfig()))
        device = resolve_device(args.device)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))
        task = build_task_1d(cfg, device)
        metrics = run_loop(task, cfg.train, cfg.seed, device, None, args.out / "checkpoint.pt", False, to_dict(cfg))
    except (DerainError, NonFiniteLossError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 3 if isinstance(err, NonFiniteLossError) else 2
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    trained = streak_spec(cfg.streaks.train, cfg.streaks)
    print(metric_table(metrics, {n for n, s in eval_streaks(cfg).items() if trained.covers(s)}))
    print(f"wrote metrics.json, config.json, checkpoint.pt to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
