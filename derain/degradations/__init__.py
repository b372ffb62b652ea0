"""One registry for every degradation: rain types, third-party rain and noise types, and the builders that
turn a config into the degradation a run trains on and the ones it is evaluated on.

A degradation has ``name``, ``family`` ('rain' | 'noise'), ``masked`` (metrics split by the layer's mask),
``covers(other)`` (is ``other`` inside its training ranges, i.e. 'seen') and
``apply(clean (B,C,H,W) in [0,1], generator) -> (degraded (B,C,H,W), layer (B,1,H,W))``, both in [0, 1].
"""

from __future__ import annotations

from typing import Protocol

import torch

from derain.config import Config
from derain.degradations.noise import NOISE_TYPES, NoiseRange, NoiseSpec, noise_spec
from derain.degradations.rain import RAIN_TYPES, RainRange, RainSpec, rain_spec
from derain.degradations.thirdparty import ThirdPartyRain
from derain.errors import ConfigError

FAMILIES = ("rain", "noise")
# The rain-diversity ladder, narrowest first: the rungs every space and claim that varies training rain uses.
RAIN_LADDER = ("small", "small+medium", "small+medium+large", "random")


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
    """Resolve a name or a '+'-joined union ('small+medium', 'gauss_low+poisson', 'albu')."""
    parts = [p.strip() for p in str(name).split("+")]
    if parts == [ThirdPartyRain.name]:
        return ThirdPartyRain()
    if all(p in RAIN_TYPES for p in parts):
        return rain_spec(name)
    if all(p in NOISE_TYPES for p in parts):
        return noise_spec(name)
    known = ", ".join(known_names())
    raise ConfigError(f"unknown degradation '{name}' (known: {known}; union of one family with '+')")


def trained_name(cfg: Config) -> str:
    """``rain.train`` or ``noise.train``, by ``cfg.degradation``."""
    return cfg.noise.train if cfg.degradation == "noise" else cfg.rain.train


def custom_degradation(cfg: Config) -> Degradation:
    """The 'custom' training range of the configured family, named 'custom'."""
    if cfg.degradation == "noise":
        return NoiseSpec((NoiseRange("custom", "gaussian", *cfg.noise.custom_sigma),))
    r = cfg.rain
    probs = tuple(1.0 / len(r.custom_widths) for _ in r.custom_widths)
    ranges = (r.custom_density, r.custom_widths, probs, r.custom_length_px, r.custom_angle_deg, r.custom_opacity)
    return RainSpec((RainRange("custom", *ranges),))


def training_degradation(cfg: Config) -> Degradation:
    """The degradation the network trains on (``rain.train`` or ``noise.train`` by ``cfg.degradation``)."""
    name = trained_name(cfg)
    return custom_degradation(cfg) if name == "custom" else get_degradation(name)


def evaluation_degradations(cfg: Config) -> dict[str, Degradation]:
    """Every degradation evaluated, by name: the family's named types, third-party rain, custom if trained."""
    names = [n for n in known_names(cfg.degradation) if n != ThirdPartyRain.name]
    evals: dict[str, Degradation] = {n: get_degradation(n) for n in names}
    if cfg.degradation == "rain" and cfg.rain.third_party:
        evals[ThirdPartyRain.name] = ThirdPartyRain()
    if trained_name(cfg) == "custom":
        evals["custom"] = custom_degradation(cfg)
    return evals
