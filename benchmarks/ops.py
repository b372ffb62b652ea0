"""Counting the torch ops one call launches (torch.profiler, CPU), shared by bench_rain.py and the tests."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.profiler import ProfilerActivity, profile


def count_ops(fn: Callable[[], object]) -> int:
    """Top-level aten ops one call of ``fn`` runs (nested calls an op makes itself are not counted)."""
    fn()  # warm-up: lazy initialisation must not count
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return sum(1 for e in prof.events() if e.name.startswith("aten::") and _is_top_level(e))


def _is_top_level(event) -> bool:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith("aten::"):
            return False
        parent = parent.cpu_parent
    return True


def rain_ops(name: str, batch: int, size: int = 128, device: str = "cpu") -> int:
    """Ops of one ``add_rain`` call on a (batch, 3, size, size) batch of rain ``name``."""
    from derain.degradations.rain import add_rain

    clean = torch.zeros(batch, 3, size, size, device=device)
    g = torch.Generator(device=device).manual_seed(0)
    return count_ops(lambda: add_rain(clean, name, g))
