"""The 2D image task: ``build_task`` (model, sampler, evaluation, figures of one config) and ``fit``, which trains a
restorer on one data configuration and reports decoupled metrics as it goes. Registered as ``derain`` in
``derain.tasks``; ``derain.train`` re-exports both and is the task's single-run CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Unpack

import torch
from torch import nn

from derain.config.schema import Config
from derain.data import prepare_data
from derain.data.banks import PatchBank
from derain.degradations import evaluation_degradations, training_degradation
from derain.engine.loop import NonFiniteLossError, RunOptions, RunParts, fit_task
from derain.engine.seeding import seeded
from derain.evaluation.evaluate import evaluate_sets, reference_metrics
from derain.evaluation.figures import save_snapshot, save_triptych
from derain.models import build_model
from derain.prior import build_prior_restorer

__all__ = ["NonFiniteLossError", "build_task", "fit", "seen_degradations"]


def build_task(cfg: Config, device: torch.device, banks: tuple[PatchBank, PatchBank] | None = None) -> RunParts:
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

    return RunParts(model.to(device), data.sampler.sample, evaluate, draw, snapshot)


def fit(
    cfg: Config, *, banks: tuple[PatchBank, PatchBank] | None = None, **run: Unpack[RunOptions]
) -> dict[str, float]:
    """Train ``cfg.model`` on ``cfg``'s data; evaluate every ``cfg.train.eval_every`` iterations.

    Args:
        cfg: a runnable Config (``make_config``).
        banks: pre-built (candidate, held-out) patch banks of ``cfg.data`` (shared between sweep trials).
        run: ``device``, ``on_eval``, ``run_dir``, ``resume`` (see ``derain.engine.loop.fit_task``).

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
