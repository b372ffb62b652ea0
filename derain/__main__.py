"""Command line of the science layer: ``python -m derain preview ...``.

Errors in the input (unknown names, bad folders, bad ranges) exit with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from derain.cli.common import EXIT_OK, OneLineParser, add_verbosity_flags, fail, setup_logging, verbosity
from derain.config.presets import make_config
from derain.data.banks import banks_for
from derain.degradations import get_degradation
from derain.errors import DerainError
from derain.preview import bins_figure, rain_figure


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m derain", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    p = sub.add_parser("preview", help="write a PNG grid of degradations or sharpness bins")
    p.add_argument(
        "--rain",
        default="small,medium,large,random",
        help="comma-separated degradation names (rain types, unions like small+medium, albu, noise)",
    )
    p.add_argument("--source", default="photos", help="photos | textures | smooth | deadleaves | folder:PATH")
    p.add_argument("--patch-size", type=int, default=128, help="patch size in px (rain lengths scale with it)")
    p.add_argument("--channels", type=int, default=3, choices=(1, 3))
    p.add_argument("--complexity", type=float, default=0.5, help="procedural sources: 0 simple .. 1 complex")
    p.add_argument("--examples", type=int, default=3, help="images per row")
    p.add_argument("--bins", action="store_true", help="show sharpness-bin patches instead of degradations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("preview.png"), help="output PNG path")
    add_verbosity_flags(p)
    return parser


def _preview(args: argparse.Namespace) -> Path:
    names = [n.strip() for n in args.rain.split(",") if n.strip()]
    for name in names:
        get_degradation(name)  # fail on an unknown name before any image work
    if args.examples < 1:
        raise DerainError(f"--examples must be >= 1, got {args.examples}")
    data = {
        "source": args.source,
        "patch_size": args.patch_size,
        "channels": args.channels,
        "complexity": args.complexity,
        "seed": args.seed,
        "pool_size": 512,
    }
    cfg = make_config(None, {"data": data})
    pool, _ = banks_for(cfg.data)
    if args.bins:
        fig = bins_figure(pool, per_bin=max(args.examples, 8), seed=args.seed, source=args.source)
    else:
        pick = torch.randperm(len(pool), generator=torch.Generator().manual_seed(args.seed))[: args.examples]
        fig = rain_figure(names, pool.subset(pick).as_float(), seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    return args.out


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)
    setup_logging(verbosity(args), fmt="%(levelname)s %(name)s: %(message)s")
    try:
        out = _preview(args)
    except (DerainError, OSError) as err:
        return fail(err)
    print(f"wrote {out}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
