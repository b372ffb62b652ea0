"""Fixed evaluation sets (DESIGN §4): every evaluated degradation x {seen, held-out} backgrounds, and the
family's fixed exams on held-out backgrounds: the yardstick (outside every training range) and the exams beside
it (``derain.degradations.EXTRA_EXAMS``). A trial trained inside one sharpness bin also sits its training
degradation and the yardstick on the held-out images of that bin (``OWN_BIN``: claim T2 compares the two there).

Sets are drawn on the CPU from generators seeded by (data.seed, set name), so every process and device gets
identical sets, and the held-out and yardstick sets are the same for every trial that shares ``data.seed``
and the held-out source. The 1D task builds its sets of the same ``EvalSet`` shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from derain.config.schema import Config
from derain.data.banks import BINS, PatchBank, sharpness_bins, tercile_edges
from derain.degradations import (
    Degradation,
    evaluation_degradations,
    exam_degradations,
    training_degradation,
    yardstick_degradations,
)
from derain.engine.seeding import eval_generator
from derain.errors import DataError
from derain.keys import BGSETS, OWN_BIN, TRAINED


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
    cfg: Config,
    name: str,
    deg: Degradation,
    bgset: str,
    bank: PatchBank,
    seen: bool,
    clean: torch.Tensor | None = None,
    **flags: bool,
) -> EvalSet:
    """One set: ``clean`` images (default: drawn from ``bank``) under ``deg``, from the set's own generator."""
    g = eval_generator(cfg.data.seed, f"{name}/{bgset}")
    n = cfg.data.eval_images if bgset == "seen" else cfg.data.heldout_images
    clean = bank.subset(draw_indices(len(bank), n, g)).as_float() if clean is None else clean
    degraded, layer = deg.apply(clean, g)
    return EvalSet(name, bgset, seen, deg.masked, clean, degraded, layer, **flags)


def build_eval_sets(
    cfg: Config, train_bg: PatchBank, heldout_bg: PatchBank, pool: PatchBank | None = None
) -> list[EvalSet]:
    """Evaluation sets for every (degradation, background set), then the family's exams not among them, then
    the own-bin sets when ``cfg.data.sharpness_bin`` is set (``pool``: the candidate pool the bin was cut
    from); deterministic in ``cfg.data.seed``."""
    trained, yardstick = training_degradation(cfg), yardstick_degradations(cfg.degradation)
    sets = []
    for name, deg in evaluation_degradations(cfg).items():
        for bgset in BGSETS:
            bank = train_bg if bgset == "seen" else heldout_bg
            in_yardstick = bgset == "heldout" and name in yardstick
            sets.append(_eval_set(cfg, name, deg, bgset, bank, trained.covers(deg), yardstick=in_yardstick))
    done = {s.degradation for s in sets}
    for name, deg in exam_degradations(cfg.degradation).items():
        if name not in done:
            seen, flags = trained.covers(deg), {"diagnostic": False, "yardstick": name in yardstick}
            sets.append(_eval_set(cfg, name, deg, "heldout", heldout_bg, seen, **flags))
    if cfg.data.sharpness_bin != "all" and pool is not None:
        own = own_bin_images(pool, heldout_bg, cfg.data.sharpness_bin)
        g = eval_generator(cfg.data.seed, f"{OWN_BIN}/{cfg.data.sharpness_bin}")
        clean = own.subset(draw_indices(len(own), cfg.data.heldout_images, g)).as_float()  # one set of images
        for name, deg in {TRAINED: trained, **yardstick}.items():  # ... for the paired gains of claim T2
            sets.append(_eval_set(cfg, name, deg, OWN_BIN, own, trained.covers(deg), clean, diagnostic=False))
    return sets


def own_bin_images(pool: PatchBank, heldout: PatchBank, sharpness_bin: str) -> PatchBank:
    """The held-out images inside the sharpness tercile ``sharpness_bin`` of the candidate ``pool`` (the same
    sharpness range the bin's training backgrounds come from). DataError when none is."""
    inside = sharpness_bins(heldout.sharpness, tercile_edges(pool.sharpness)) == BINS.index(sharpness_bin)
    if not inside.any():
        raise DataError(f"no held-out image lies in sharpness bin '{sharpness_bin}' (raise data.heldout_images)")
    return heldout.subset(torch.nonzero(inside).flatten())
