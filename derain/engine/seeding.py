"""The seeds of evaluation sets and of model initialisation, each defined once.

Evaluation sets are drawn from a generator seeded by (seed, set name) so every process and device draws the
same images; models are initialised from a seed without touching the caller's global RNG state.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import TypeVar

import torch

T = TypeVar("T")


def eval_generator(seed: int, name: str) -> torch.Generator:
    """CPU generator of the evaluation set ``name`` (e.g. 'small/heldout') under ``seed``."""
    # crc32, not hash(): Python's str hash is salted per process.
    return torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))


def seeded(seed: int, build: Callable[[], T]) -> T:
    """``build()`` with torch's global CPU RNG seeded by ``seed`` and restored afterwards (model init)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()
