"""One registry for every degradation: rain types, third-party rain and noise types, and the builders that
turn a config into the degradation a run trains on and the ones it is evaluated on.

A degradation has ``name``, ``family`` ('rain' | 'noise'), ``masked`` (metrics split by the layer's mask),
``covers(other)`` (is ``other`` inside its training ranges, i.e. 'seen') and
``apply(clean (B,C,H,W) in [0,1], generator) -> (degraded (B,C,H,W), layer (B,1,H,W))``, both in [0, 1].
"""

from __future__ import annotations

from typing import Protocol

import torch

from derain.config.schema import Config
from derain.degradations.noise import NOISE_TYPES, NoiseRange, NoiseSpec, noise_spec
from derain.degradations.rain import RAIN_TYPES, RainRange, RainSpec, rain_spec
from derain.degradations.thirdparty import ThirdPartyRain
from derain.errors import ConfigError

FAMILIES = ("rain", "noise")
# The rain-diversity ladder, narrowest first: the rungs every space and claim that varies training rain uses.
RAIN_LADDER = ("small", "small+medium", "small+medium+large", "random")

# The yardstick (DESIGN §4): the primary exam of every claim and objective, outside every training range a space
# can use (every rung of the ladder, 'random' included; every named noise range), so every trial of every space
# sits the same exam. 'steep': streaks leaning 65-80 degrees either way (random stops at 60), 60-75 px long at
# 128 px (random stops at 55) and 11-13 px wide (random stops at 9), at medium density; 'gauss_extreme':
# Gaussian noise of sigma 60-80 (gauss_high stops at 50).
_STEEP = {"density": (0.004, 0.008), "widths": (11, 13), "width_probs": (0.5, 0.5), "length_px": (60, 75)}
YARDSTICK_TYPES: dict[str, dict[str, Degradation]] = {
    "rain": {
        "steep": RainSpec(
            (
                RainRange("steep_left", angle_deg=(-80.0, -65.0), **_STEEP),
                RainRange("steep_right", angle_deg=(65.0, 80.0), **_STEEP),
            )
        ),
    },
    "noise": {"gauss_extreme": NoiseSpec((NoiseRange("gauss_extreme", "gaussian", 60.0, 80.0),))},
}
# Fixed exams beside the yardstick, on the same held-out images, each under its own keys
# (eval/<name>/heldout/<metric>): every trial of the family sits them too.
# 'faint' is the rain ladder's exam (claim T4): small's streaks (density 0.002-0.004, widths 1 and 3, 25-35 px,
# -10..10 degrees) at opacity 0.3-0.5. Every rung of RAIN_LADDER holds all of small and has opacity 0.7-1.0, so
# faint lies equally far from every rung: 0.2 of opacity below each rung's least, 0 in every other parameter
# (the nearest point of each rung is the same point of small). The yardstick cannot serve T4: steep lies 55
# degrees and 25 px beyond small but only 5 degrees and 5 px beyond random, so it favours the wider rungs by
# construction.
# 'albu' (albumentations RandomRain, rain no part of this project made) is descriptive only: at 48 px about 40 %
# of its images lean within 7 degrees of vertical, inside every rung of the ladder.
_SMALL = {"density": (0.002, 0.004), "widths": (1, 3), "width_probs": (0.5, 0.5), "length_px": (25, 35)}
EXTRA_EXAMS: dict[str, dict[str, Degradation]] = {
    "rain": {
        "faint": RainSpec((RainRange("faint", angle_deg=(-10.0, 10.0), opacity=(0.3, 0.5), **_SMALL),)),
        ThirdPartyRain.name: ThirdPartyRain(),
    },
    "noise": {},
}
LADDER_EXAM = "faint"  # T4's exam (eval/faint/heldout/gain_db)


class Degradation(Protocol):
    name: str
    family: str
    masked: bool

    def covers(self, other: object) -> bool: ...

    def apply(self, clean: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]: ...


def known_names(family: str | None = None) -> list[str]:
    """Named degradations, optionally of one family."""
    rain = [*RAIN_TYPES, ThirdPartyRain.name]
    names = {"rain": rain, "noise": list(NOISE_TYPES)}
    return names[family] if family else rain + list(NOISE_TYPES)


def get_degradation(name: str) -> Degradation:
    """Resolve a name, a '+'-joined union ('small+medium', 'gauss_low+poisson') or an exam's name ('steep')."""
    parts = [p.strip() for p in str(name).split("+")]
    exams = {n: d for family in (*YARDSTICK_TYPES, *EXTRA_EXAMS) for n, d in exam_degradations(family).items()}
    if len(parts) == 1 and parts[0] in exams:
        return exams[parts[0]]
    if all(p in RAIN_TYPES for p in parts):
        return rain_spec(name)
    if all(p in NOISE_TYPES for p in parts):
        return noise_spec(name)
    known = ", ".join(known_names())
    raise ConfigError(f"unknown degradation '{name}' (known: {known}; union of one family with '+')")


def trained_name(cfg: Config) -> str:
    """``rain.train`` or ``noise.train``, by ``cfg.degradation``."""
    return cfg.noise.train if cfg.degradation == "noise" else cfg.rain.train


def custom_degradation(cfg: Config, family: str | None = None) -> Degradation:
    """The 'custom' training range of ``family`` (default: the configured one), named 'custom'."""
    if (family or cfg.degradation) == "noise":
        return NoiseSpec((NoiseRange("custom", "gaussian", *cfg.noise.custom_sigma),))
    r = cfg.rain
    probs = tuple(1.0 / len(r.custom_widths) for _ in r.custom_widths)
    ranges = (r.custom_density, r.custom_widths, probs, r.custom_length_px, r.custom_angle_deg, r.custom_opacity)
    return RainSpec((RainRange("custom", *ranges),))


def training_degradation(cfg: Config, family: str | None = None) -> Degradation:
    """What ``rain.train`` or ``noise.train`` names (``family``; default: the configured one, which the network
    trains on). ConfigError when the name is unknown or of the other family ('gauss_low' as rain)."""
    family = family or cfg.degradation
    name = getattr(cfg, family).train
    degradation = custom_degradation(cfg, family) if name == "custom" else get_degradation(name)
    if degradation.family != family:
        known = ", ".join(known_names(family))
        raise ConfigError(f"'{name}' is a {degradation.family} degradation, not {family} (known: {known})")
    return degradation


def evaluation_degradations(cfg: Config) -> dict[str, Degradation]:
    """Every degradation evaluated, by name: the family's named types, third-party rain, custom if trained."""
    names = [n for n in known_names(cfg.degradation) if n != ThirdPartyRain.name]
    evals: dict[str, Degradation] = {n: get_degradation(n) for n in names}
    if cfg.degradation == "rain" and cfg.rain.third_party:
        evals[ThirdPartyRain.name] = ThirdPartyRain()
    if trained_name(cfg) == "custom":
        evals["custom"] = custom_degradation(cfg)
    return evals


def yardstick_degradations(family: str) -> dict[str, Degradation]:
    """The yardstick of a family ('rain' | 'noise'), by name: the same for every config of that family."""
    return dict(YARDSTICK_TYPES[family])


def exam_degradations(family: str) -> dict[str, Degradation]:
    """Every fixed exam of a family by name, the yardstick first: what every trial of the family sits."""
    return {**YARDSTICK_TYPES[family], **EXTRA_EXAMS[family]}
