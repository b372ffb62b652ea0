"""Search spaces: one module each, registered explicitly here (``python sweeps/run.py --list`` shows them)."""

from __future__ import annotations

from derain.errors import DerainError
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


def get_space(name: str | None) -> Space:
    """The registered space ``name``; DerainError listing the known ones otherwise."""
    if name not in REGISTRY:
        raise DerainError(f"unknown space '{name}' (known: {', '.join(REGISTRY)})")
    return REGISTRY[name]
