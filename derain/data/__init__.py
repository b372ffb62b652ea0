"""Data of a run (DESIGN §4-5): background sources, patch banks, training batches and evaluation sets.

``prepare_data(cfg, device)`` resolves everything a run needs before any training starts: the training
degradation, the N training backgrounds, a ``TrainSampler`` and the evaluation sets.

Modules: ``sources`` (images of a source), ``banks`` (patch banks, sharpness, choosing N), ``sampler``
(training batches), ``evalsets`` (fixed evaluation sets).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from derain.config.schema import Config
from derain.data.banks import PatchBank, banks_for, select_backgrounds
from derain.data.evalsets import EvalSet, build_eval_sets
from derain.data.sampler import TrainSampler
from derain.degradations import Degradation, training_degradation

__all__ = ["EvalSet", "RunData", "TrainSampler", "prepare_data"]


@dataclass(frozen=True)
class RunData:
    """Everything data-related a run needs, resolved before training starts."""

    degradation: Degradation
    backgrounds: PatchBank
    heldout: PatchBank
    sampler: TrainSampler
    eval_sets: list[EvalSet]


def prepare_data(
    cfg: Config, device: torch.device | str = "cpu", banks: tuple[PatchBank, PatchBank] | None = None
) -> RunData:
    """Resolve degradation, training backgrounds, sampler and evaluation sets for ``cfg``.

    ``banks``: the (candidate pool, held-out) banks of ``cfg.data`` when the caller already holds them (e.g.
    shared read-only between sweep trials); built (and cached per process) otherwise.
    """
    device = torch.device(device)
    degradation = training_degradation(cfg)
    pool, heldout = banks if banks is not None else banks_for(cfg.data)
    # The replicate seed (``seed``) draws the training backgrounds; ``data.seed`` fixes the pool and the exam.
    chosen = select_backgrounds(pool, cfg.data, torch.Generator().manual_seed(cfg.seed))
    sampler = TrainSampler(chosen, degradation, cfg, device)
    return RunData(degradation, chosen, heldout, sampler, build_eval_sets(cfg, chosen, heldout, pool))
