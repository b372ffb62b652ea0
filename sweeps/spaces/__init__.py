"""Search spaces: one module each, registered explicitly here (``python sweeps/run.py --list`` shows them)."""

from __future__ import annotations

from sweeps.spaces import (
    backgrounds,
    balance,
    capacity,
    claims,
    denoise,
    prior,
    rain_diversity,
    sharpness,
    toy1d,
)
from sweeps.spaces.base import Space

REGISTRY: dict[str, Space] = {
    m.SPACE.name: m.SPACE
    for m in (balance, backgrounds, sharpness, rain_diversity, capacity, denoise, toy1d, prior, claims)
}


def get_space(name: str) -> Space:
    if name not in REGISTRY:
        raise KeyError(f"unknown space '{name}' (known: {', '.join(REGISTRY)})")
    return REGISTRY[name]
