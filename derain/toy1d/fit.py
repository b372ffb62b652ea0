"""``fit1d``: train a 1D restorer with the shared loop and evaluate it on seen and unseen streaks.

Evaluation sets: every named streak range (and 'custom' when trained on it) x {seen functions (drawn from the
M training functions), held-out functions (fresh draws)}; fixed by ``content.seed``. Metric keys are the 2D
ones: ``eval/<streaks>/<seen|heldout>/<metric>``, ``eval/{seen,unseen}/*``, ``eval/gap``, ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Unpack

import torch
from torch import nn

from derain.data.evalsets import EvalSet
from derain.engine.loop import RunOptions, RunParts, fit_task
from derain.engine.seeding import eval_generator, seeded
from derain.evaluation.evaluate import evaluate_sets, reference_metrics
from derain.evaluation.figures import save_signal_plot
from derain.keys import BGSETS
from derain.toy1d.config import Toy1dConfig
from derain.toy1d.content import make_functions
from derain.toy1d.models import build_toy_model
from derain.toy1d.streaks import STREAK_TYPES, YARDSTICK_STREAKS, StreakSpec, streak_spec


def _functions(cfg: Toy1dConfig, count: int, seed: int, stream: int) -> torch.Tensor:
    c = cfg.content
    return make_functions(c.family, count, c.terms, c.length, torch.Generator().manual_seed(seed * 1000 + stream))


def eval_streaks(cfg: Toy1dConfig) -> dict[str, StreakSpec]:
    """Every evaluated streak range by name: the named ranges, and 'custom' when trained on it."""
    evals = {n: streak_spec(n) for n in STREAK_TYPES}
    if cfg.streaks.train == "custom":
        evals["custom"] = streak_spec("custom", cfg.streaks)
    return evals


def seen_streaks(cfg: Toy1dConfig) -> set[str]:
    """Names of the evaluated streak ranges inside the training ranges."""
    trained = streak_spec(cfg.streaks.train, cfg.streaks)
    return {name for name, spec in eval_streaks(cfg).items() if trained.covers(spec)}


def build_eval_sets_1d(cfg: Toy1dConfig, train_functions: torch.Tensor) -> list[EvalSet]:
    """Fixed evaluation sets: every named streak range on seen functions (training functions, with replacement
    when M < n) and on held-out functions, then the yardstick's held-out set."""
    trained = streak_spec(cfg.streaks.train, cfg.streaks)
    n = cfg.content.eval_functions
    heldout = _functions(cfg, n, cfg.content.seed, stream=1)  # the exam: fixed by content.seed
    plan = [(name, spec, bgset, {}) for name, spec in eval_streaks(cfg).items() for bgset in BGSETS]
    plan += [
        (name, spec, "heldout", {"diagnostic": False, "yardstick": True}) for name, spec in YARDSTICK_STREAKS.items()
    ]
    sets = []
    for name, spec, bgset, flags in plan:
        g = eval_generator(cfg.content.seed, f"{name}/{bgset}")
        clean = train_functions[torch.randint(len(train_functions), (n,), generator=g)] if bgset == "seen" else heldout
        degraded, support = spec.apply(clean, g)
        sets.append(EvalSet(name, bgset, trained.covers(spec), True, clean, degraded, support, **flags))
    return sets


class _Sampler:
    """Training batches: M functions, streaks with probability p; everything on ``device``."""

    def __init__(self, functions: torch.Tensor, spec: StreakSpec, probability: float, device: torch.device):
        self.functions, self.spec, self.p = functions.to(device), spec, probability

    def sample(self, batch: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        clean = self.functions[torch.randint(len(self.functions), (batch,), generator=g, device=g.device)]
        degraded, _ = self.spec.apply(clean, g)
        keep = torch.rand(batch, generator=g, device=g.device) < self.p
        return torch.where(keep.view(-1, 1, 1), degraded, clean), clean


def build_task_1d(cfg: Toy1dConfig, device: torch.device) -> RunParts:
    """The loop's RunParts: M training functions, the fixed evaluation sets, the model, the signal plot."""
    functions = _functions(cfg, cfg.content.count, cfg.seed, stream=0)  # the replicate seed draws the M functions
    sets = build_eval_sets_1d(cfg, functions)
    spec = streak_spec(cfg.streaks.train, cfg.streaks)
    sampler = _Sampler(functions, spec, cfg.streaks.degrade_probability, device)
    model = seeded(cfg.seed, lambda: build_toy_model(cfg.model, cfg.content.length))

    references = reference_metrics(sets, device, oracle=False)

    def evaluate(m: nn.Module) -> dict[str, float]:
        return {**evaluate_sets(m, sets, device, cfg.train.eval_batch), **references}

    def draw(m: nn.Module, path: Path) -> None:
        save_signal_plot(m, sets, device, path)

    return RunParts(model.to(device), sampler.sample, evaluate, draw)


def fit1d(cfg: Toy1dConfig, **run: Unpack[RunOptions]) -> dict[str, float]:
    """Train on ``cfg``; same contract as ``derain.train.fit`` (``run``: device, on_eval, run_dir, resume)."""
    return fit_task(cfg, lambda device: build_task_1d(cfg, device), **run)
