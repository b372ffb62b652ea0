"""``fit``: train a restorer on one data configuration and report decoupled metrics as it goes.

Also the single-run CLI (``derain-train``)::

    python -m derain.train --scale cpu --set data.num_backgrounds=64 --set rain.train=small --out runs/x

which prints the final metric table and writes metrics.json, history.jsonl, config.json, triptych.png and checkpoint.pt.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Unpack

import torch
from torch import nn

from derain.config import Config
from derain.data import prepare_data
from derain.data.banks import PatchBank
from derain.degradations import evaluation_degradations, training_degradation
from derain.device import default_scale
from derain.evaluate import evaluate_sets, reference_metrics
from derain.figures import save_snapshot, save_triptych
from derain.loop import NonFiniteLossError, RunOptions, Task, fit_task
from derain.models import build_model
from derain.prior import build_prior_restorer
from derain.scales import make_config
from derain.seeding import seeded
from derain.single import run_single, single_run_parser

__all__ = ["NonFiniteLossError", "build_task", "fit", "main", "seen_degradations"]


def build_task(cfg: Config, device: torch.device, banks: tuple[PatchBank, PatchBank] | None = None) -> Task:
    """Model (initialised from ``cfg.seed`` without touching the global RNG), sampler, evaluation, figure.

    ``banks``: optional pre-built (candidate, held-out) PatchBanks, see ``prepare_data``.
    """
    data = prepare_data(cfg, device, banks)
    extra: dict[str, float] = {}
    if cfg.prior.kind != "none":  # the prior replaces model.name: a fresh encoder into its frozen decoder
        model, extra = build_prior_restorer(cfg, device)
    else:
        model = seeded(cfg.seed, lambda: build_model(cfg.model, cfg.data.channels))

    extra.update(reference_metrics(data.eval_sets, device))

    def evaluate(m: nn.Module) -> dict[str, float]:
        return {**evaluate_sets(m, data.eval_sets, device, cfg.train.eval_batch), **extra}

    def draw(m: nn.Module, path: Path) -> None:
        save_triptych(m, data.eval_sets, device, path)

    def snapshot(m: nn.Module, path: Path) -> None:
        save_snapshot(m, data.eval_sets, device, path)

    return Task(model.to(device), data.sampler.sample, evaluate, draw, snapshot)


def fit(
    cfg: Config, *, banks: tuple[PatchBank, PatchBank] | None = None, **run: Unpack[RunOptions]
) -> dict[str, float]:
    """Train ``cfg.model`` on ``cfg``'s data; evaluate every ``cfg.train.eval_every`` iterations.

    Args:
        cfg: a runnable Config (``make_config``).
        banks: pre-built (candidate, held-out) patch banks of ``cfg.data`` (shared between sweep trials).
        run: ``device``, ``on_eval``, ``run_dir``, ``resume`` (see ``derain.loop.fit_task``).

    Returns:
        The last evaluation's metrics: ``eval/<deg>/<bgset>/<metric>``, ``eval/{seen,unseen}/*``, ``eval/gap``,
        ``eval/heldout/psnr``, ``train/loss``, ``train/step``, ``train/lr``.

    Raises:
        NonFiniteLossError: the loss became NaN/inf (names the step).
    """
    return fit_task(cfg, lambda device: build_task(cfg, device, banks), **run)


def seen_degradations(cfg: Config) -> set[str]:
    """Names of the evaluated degradations inside the training ranges."""
    trained = training_degradation(cfg)
    return {name for name, deg in evaluation_degradations(cfg).items() if trained.covers(deg)}


def _make(scale: str | None, overrides: dict) -> Config:
    return make_config(scale or default_scale(), overrides)


def main(argv: list[str] | None = None) -> int:
    """Single training run; 0 ok, 2 bad input, 3 diverged."""
    parser = single_run_parser("python -m derain.train", "Train one restorer and print its decoupled metrics.")
    return run_single(parser.parse_args(argv), _make, fit, seen_degradations, Config())


if __name__ == "__main__":
    sys.exit(main())
