"""Training batches and fixed-seed evaluation sets (DESIGN §4).

``prepare_data(cfg, device)`` resolves everything a run needs before any training starts: the training
degradation, the N training backgrounds, a ``TrainSampler`` and the evaluation sets. Evaluation sets cover
{every named degradation of the family (+ third-party rain, + the custom training range)} x {seen
backgrounds (drawn from the N training patches), held-out backgrounds (disjoint images)}; they are drawn on
the CPU from generators seeded by (data.seed, set name), so every process and device gets identical sets.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import torch

from derain.backgrounds import PatchBank, banks_for, select_backgrounds
from derain.config import Config
from derain.degradations import Degradation, get_degradation, known_names
from derain.noise import NoiseRange, NoiseSpec
from derain.rain import RainRange, RainSpec
from derain.thirdparty import ThirdPartyRain

BGSETS = ("seen", "heldout")


def custom_degradation(cfg: Config) -> Degradation:
    """The 'custom' training range of the configured family, named 'custom'."""
    if cfg.degradation == "noise":
        return NoiseSpec((NoiseRange("custom", "gaussian", *cfg.noise.custom_sigma),))
    r = cfg.rain
    probs = tuple(1.0 / len(r.custom_widths) for _ in r.custom_widths)
    rng = RainRange("custom", r.custom_density, r.custom_widths, probs, r.custom_length_px, r.custom_angle_deg,
                    r.custom_opacity)  # fmt: skip
    return RainSpec((rng,))


def training_degradation(cfg: Config) -> Degradation:
    """The degradation the network trains on (``rain.train`` or ``noise.train`` by ``cfg.degradation``)."""
    name = cfg.noise.train if cfg.degradation == "noise" else cfg.rain.train
    return custom_degradation(cfg) if name == "custom" else get_degradation(name)


def evaluation_degradations(cfg: Config) -> dict[str, Degradation]:
    """Every degradation evaluated, by name: the family's named types, third-party rain, custom if trained."""
    names = [n for n in known_names(cfg.degradation) if n != ThirdPartyRain.name]
    evals: dict[str, Degradation] = {n: get_degradation(n) for n in names}
    if cfg.degradation == "rain" and cfg.rain.third_party:
        evals[ThirdPartyRain.name] = ThirdPartyRain()
    if (cfg.noise.train if cfg.degradation == "noise" else cfg.rain.train) == "custom":
        evals["custom"] = custom_degradation(cfg)
    return evals


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random element of the dihedral group per image (flips and transposes; square patches)."""
    flags = torch.rand(3, x.shape[0], 1, 1, 1, generator=generator, device=generator.device) < 0.5
    flags = flags.to(x.device)
    x = torch.where(flags[0], x.flip(-1), x)
    x = torch.where(flags[1], x.flip(-2), x)
    return torch.where(flags[2], x.transpose(-2, -1), x)


class TrainSampler:
    """Random training batches from the N background patches, degraded with probability p."""

    def __init__(self, backgrounds: PatchBank, degradation: Degradation, cfg: Config, device: torch.device):
        self.patches = backgrounds.patches.to(device)  # uint8 (N, C, S, S): 4x smaller than float on device
        self.degradation = degradation
        self.probability = cfg.data.degrade_probability
        self.augment = cfg.data.augment

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(degraded, clean), both (batch, C, S, S) float in [0, 1] on the patches' device.

        ``generator`` must live on that device; it is the only source of randomness.
        """
        g = generator
        idx = torch.randint(len(self.patches), (batch_size,), generator=g, device=g.device)
        clean = self.patches[idx.to(self.patches.device)].float() / 255.0
        if self.augment:
            clean = _augment(clean, g)
        degraded, _ = self.degradation.apply(clean, g)
        keep = torch.rand(batch_size, generator=g, device=g.device).to(clean.device) < self.probability
        return torch.where(keep.view(-1, 1, 1, 1), degraded, clean), clean


@dataclass(frozen=True)
class EvalSet:
    """One fixed evaluation set: (n, C, S, S) clean/degraded images and the (n, 1, S, S) layer, on CPU."""

    degradation: str
    bgset: str
    seen: bool
    masked: bool
    clean: torch.Tensor
    degraded: torch.Tensor
    layer: torch.Tensor


def _set_generator(cfg: Config, name: str) -> torch.Generator:
    # crc32, not hash(): Python's str hash is salted per process.
    return torch.Generator().manual_seed(cfg.data.seed * 1_000_003 + zlib.crc32(name.encode()))


def build_eval_sets(cfg: Config, train_bg: PatchBank, heldout_bg: PatchBank) -> list[EvalSet]:
    """Evaluation sets for every (degradation, background set); deterministic in ``cfg.data.seed``."""
    trained = training_degradation(cfg)
    n = cfg.data.eval_images
    sets = []
    for name, deg in evaluation_degradations(cfg).items():
        for bgset in BGSETS:
            g = _set_generator(cfg, f"{name}/{bgset}")
            bank = train_bg if bgset == "seen" else heldout_bg
            if len(bank) < n:  # fewer training backgrounds than evaluation images: repeat, new rain each
                idx = torch.randint(len(bank), (n,), generator=g)
            else:
                idx = torch.randperm(len(bank), generator=g)[:n]
            clean = bank.subset(idx).as_float()
            degraded, layer = deg.apply(clean, g)
            sets.append(EvalSet(name, bgset, trained.covers(deg), deg.masked, clean, degraded, layer))
    return sets


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
    chosen = select_backgrounds(pool, cfg.data, torch.Generator().manual_seed(cfg.data.seed))
    sampler = TrainSampler(chosen, degradation, cfg, device)
    return RunData(degradation, chosen, heldout, sampler, build_eval_sets(cfg, chosen, heldout))
