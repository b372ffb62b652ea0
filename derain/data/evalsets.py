"""Fixed evaluation sets (DESIGN §4): every evaluated degradation x {seen, held-out} backgrounds, and the
yardstick: the family's fixed degradations outside every training range, on held-out backgrounds.

Sets are drawn on the CPU from generators seeded by (data.seed, set name), so every process and device gets
identical sets, and the held-out and yardstick sets are the same for every trial that shares ``data.seed``
and the held-out source. The 1D task builds its sets of the same ``EvalSet`` shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from derain.config import Config
from derain.data.banks import PatchBank
from derain.degradations import Degradation, evaluation_degradations, training_degradation, yardstick_degradations
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
    diagnostic: bool = True  # in the trial's own seen/unseen split (eval/seen/*, eval/unseen/*, eval/gap)
    yardstick: bool = False  # part of the fixed exam every trial sits (eval/yardstick/*)


def draw_indices(available: int, n: int, g: torch.Generator) -> torch.Tensor:
    """``n`` distinct indices below ``available``, or ``n`` with repeats when fewer are available."""
    if available < n:  # fewer backgrounds than evaluation images: repeat, new degradation each
        return torch.randint(available, (n,), generator=g)
    return torch.randperm(available, generator=g)[:n]


def _eval_set(
    cfg: Config, name: str, deg: Degradation, bgset: str, bank: PatchBank, seen: bool, **flags: bool
) -> EvalSet:
    g = eval_generator(cfg.data.seed, f"{name}/{bgset}")
    n = cfg.data.eval_images if bgset == "seen" else cfg.data.heldout_images
    clean = bank.subset(draw_indices(len(bank), n, g)).as_float()
    degraded, layer = deg.apply(clean, g)
    return EvalSet(name, bgset, seen, deg.masked, clean, degraded, layer, **flags)


def build_eval_sets(cfg: Config, train_bg: PatchBank, heldout_bg: PatchBank) -> list[EvalSet]:
    """Evaluation sets for every (degradation, background set), then the yardstick's held-out sets not among
    them; deterministic in ``cfg.data.seed``."""
    trained, yardstick = training_degradation(cfg), yardstick_degradations(cfg.degradation)
    sets = []
    for name, deg in evaluation_degradations(cfg).items():
        for bgset in BGSETS:
            bank = train_bg if bgset == "seen" else heldout_bg
            in_yardstick = bgset == "heldout" and name in yardstick
            sets.append(_eval_set(cfg, name, deg, bgset, bank, trained.covers(deg), yardstick=in_yardstick))
    done = {s.degradation for s in sets}
    for name, deg in yardstick.items():
        if name not in done:
            seen = trained.covers(deg)
            sets.append(_eval_set(cfg, name, deg, "heldout", heldout_bg, seen, diagnostic=False, yardstick=True))
    return sets
