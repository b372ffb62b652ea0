"""``fit``: train a restorer on one data configuration and report decoupled metrics as it goes.

Also the single-run CLI::

    python -m derain.train --scale cpu --set data.num_backgrounds=64 --set rain.train=small --out runs/x

which prints the final metric table and writes metrics.json, config.json, triptych.png and checkpoint.pt.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch
from torch import nn

from derain.config import Config, parse_assignment, to_dict
from derain.data import EvalSet, RunData, prepare_data
from derain.errors import DerainError
from derain.loop import NonFiniteLossError, OnEval, Task, run_loop
from derain.metrics import SetResult, image_metrics, summarize
from derain.models import build_model
from derain.report import metric_table

log = logging.getLogger(__name__)

__all__ = ["NonFiniteLossError", "fit", "predict"]


def resolve_device(device: str | torch.device) -> torch.device:
    """'auto' -> cuda when available else cpu; anything else as given."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, device: torch.device, batch: int = 32) -> torch.Tensor:
    """Model output for ``images`` (n, C, H, W) in [0, 1], in chunks, clamped to [0, 1], on the CPU."""
    model.eval()
    outs = [model(images[i : i + batch].to(device)).float().clamp(0, 1).cpu() for i in range(0, len(images), batch)]
    return torch.cat(outs)


def evaluate_sets(model: nn.Module, sets: list[EvalSet], device: torch.device, batch: int = 32) -> dict[str, float]:
    """The namespaced metric dict of ``model`` on every evaluation set."""
    results = []
    for s in sets:
        out = predict(model, s.degraded, device, batch)
        results.append(SetResult(s.degradation, s.bgset, s.seen, image_metrics(out, s.degraded, s.clean, s.layer,
                                                                                s.masked)))  # fmt: skip
    return summarize(results)


def build_task(cfg: Config, device: torch.device, banks: tuple | None = None) -> tuple[Task, RunData]:
    """Model (initialised from ``cfg.seed`` without touching the global RNG), sampler and evaluation.

    ``banks``: optional pre-built (candidate, held-out) PatchBanks, see ``prepare_data``.
    """
    data = prepare_data(cfg, device, banks)
    extra: dict[str, float] = {}
    if cfg.prior.kind == "vq":  # the prior replaces model.name: a fresh encoder into a frozen codebook
        from derain.prior import build_prior_restorer

        model, extra = build_prior_restorer(cfg, device)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            model = build_model(cfg.model, cfg.data.channels)

    def evaluate(m: nn.Module) -> dict[str, float]:
        return {**evaluate_sets(m, data.eval_sets, device, cfg.train.eval_batch), **extra}

    return Task(model.to(device), data.sampler.sample, evaluate), data


def fit(
    cfg: Config,
    device: str | torch.device = "cpu",
    on_eval: OnEval | None = None,
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
) -> dict[str, float]:
    """Train ``cfg.model`` on ``cfg``'s data; evaluate every ``cfg.train.eval_every`` iterations.

    Args:
        cfg: a validated Config (``with_overrides`` / ``make_config``).
        device: 'cpu', 'cuda', 'cuda:1' or 'auto'; data, model and batches all live there.
        on_eval: called as ``on_eval(step, metrics)`` after each evaluation (after the checkpoint is written).
        checkpoint_path: where to write the checkpoint at each evaluation; None = no checkpoints.
        resume: continue from ``checkpoint_path`` if it exists.

    Returns:
        The last evaluation's metrics: ``eval/<deg>/<bgset>/<metric>``, ``eval/{seen,unseen}/*``, ``eval/gap``,
        ``eval/heldout/psnr``, ``train/loss``, ``train/step``, ``train/lr``.

    Raises:
        NonFiniteLossError: the loss became NaN/inf (names the step).
    """
    device = resolve_device(device)
    task, _ = build_task(cfg, device)
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    return run_loop(task, cfg.train, cfg.seed, device, on_eval, path, resume, to_dict(cfg))


def save_triptych(model: nn.Module, data: RunData, device: torch.device, path: Path) -> None:
    """PNG rows (degraded | output | clean) for the first seen and first unseen set on held-out backgrounds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    held = [s for s in data.eval_sets if s.bgset == "heldout"]
    rows = [s for s in ([next((s for s in held if s.seen), None), next((s for s in held if not s.seen), None)]) if s]
    fig, axes = plt.subplots(len(rows), 3, figsize=(7.5, 2.6 * len(rows)), squeeze=False)
    for ax_row, s in zip(axes, rows, strict=True):
        out = predict(model, s.degraded[:1], device)
        kind = "seen" if s.seen else "unseen"
        for ax, img, title in zip(ax_row, (s.degraded[0], out[0], s.clean[0]), ("degraded", "output", "clean"),
                                  strict=True):  # fmt: skip
            arr = img.permute(1, 2, 0).numpy()
            ax.imshow(arr.squeeze(-1) if arr.shape[-1] == 1 else arr, cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"{title} ({s.degradation}, {kind})", fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """Shared single-run CLI: --scale, --set (repeatable), --out, --device, --seed."""
    from derain.__main__ import OneLineParser
    from derain.scales import SCALES

    p = OneLineParser(prog=prog, description=description)
    p.add_argument("--scale", choices=list(SCALES), default=None, help="preset (default: gpu with CUDA, else cpu)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, repeatable, e.g. --set data.num_backgrounds=64")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def parse_overrides(pairs: list[str], base: Config) -> dict:
    merged: dict = {}
    for pair in pairs:
        merged.update(parse_assignment(pair, base))
    return merged


def _run(args: argparse.Namespace) -> tuple[dict[str, float], set[str]]:
    from derain.scales import default_scale, make_config

    cfg = make_config(args.scale or default_scale(), parse_overrides(args.overrides, Config()))
    device = resolve_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))
    task, data = build_task(cfg, device)
    metrics = run_loop(task, cfg.train, cfg.seed, device, None, args.out / "checkpoint.pt", False, to_dict(cfg))
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    save_triptych(task.model, data, device, args.out / "triptych.png")
    return metrics, {s.degradation for s in data.eval_sets if s.seen}


def main(argv: list[str] | None = None) -> int:
    """Single training run; 0 ok, 2 bad input, 3 diverged."""
    args = build_parser("python -m derain.train", "Train one restorer and print its decoupled metrics.").parse_args(
        argv
    )
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s")
    try:
        metrics, seen = _run(args)
    except DerainError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    print(metric_table(metrics, seen))
    print(f"wrote metrics.json, config.json, triptych.png, checkpoint.pt to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
