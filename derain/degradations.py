"""One registry for every degradation: rain types, third-party rain and noise types.

A degradation has ``name``, ``family`` ('rain' | 'noise'), ``masked`` (metrics split by the layer's mask),
``covers(other)`` (is ``other`` inside its training ranges, i.e. 'seen') and
``apply(clean (B,C,H,W) in [0,1], generator) -> (degraded (B,C,H,W), layer (B,1,H,W))``, both in [0, 1].
"""

from __future__ import annotations

from typing import Protocol

import torch

from derain.errors import ConfigError
from derain.noise import NOISE_TYPES, noise_spec
from derain.rain import RAIN_TYPES, rain_spec
from derain.thirdparty import ThirdPartyRain

FAMILIES = ("rain", "noise")


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
    raise ConfigError(f"unknown degradation '{name}' (known: {', '.join(known_names())}; union of one family with '+')")
