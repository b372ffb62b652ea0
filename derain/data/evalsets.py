"""Fixed evaluation sets (DESIGN §4): every evaluated degradation x {seen, held-out} backgrounds.

Sets are drawn on the CPU from generators seeded by (data.seed, set name), so every process and device gets
identical sets. The 1D task builds its sets of the same ``EvalSet`` shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from derain.config import Config
from derain.data.banks import PatchBank
from derain.degradations import evaluation_degradations, training_degradation
from derain.keys import BGSETS
from derain.seeding import eval_generator


@dataclass(frozen=True)
class EvalSet:
    """One fixed evaluation set: (n, C, S, S) clean/degraded images and the (n, 1, S, S) layer, on CPU.

    1D sets hold (n, 1, L) signals and (n, 1, L) supports.
    """

    degradation: str
    bgset: str
    seen: bool
    masked: bool
    clean: torch.Tensor
    degraded: torch.Tensor
    layer: torch.Tensor


def draw_indices(available: int, n: int, g: torch.Generator) -> torch.Tensor:
    """``n`` distinct indices below ``available``, or ``n`` with repeats when fewer are available."""
    if available < n:  # fewer backgrounds than evaluation images: repeat, new degradation each
        return torch.randint(available, (n,), generator=g)
    return torch.randperm(available, generator=g)[:n]


def build_eval_sets(cfg: Config, train_bg: PatchBank, heldout_bg: PatchBank) -> list[EvalSet]:
    """Evaluation sets for every (degradation, background set); deterministic in ``cfg.data.seed``."""
    trained = training_degradation(cfg)
    n = cfg.data.eval_images
    sets = []
    for name, deg in evaluation_degradations(cfg).items():
        for bgset in BGSETS:
            g = eval_generator(cfg.data.seed, f"{name}/{bgset}")
            bank = train_bg if bgset == "seen" else heldout_bg
            clean = bank.subset(draw_indices(len(bank), n, g)).as_float()
            degraded, layer = deg.apply(clean, g)
            sets.append(EvalSet(name, bgset, trained.covers(deg), deg.masked, clean, degraded, layer))
    return sets
