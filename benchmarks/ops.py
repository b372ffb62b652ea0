"""Shared by the benchmarks and the tests: counting the torch ops one call launches (torch.profiler, CPU), and
timing calls on a device."""

from __future__ import annotations

import time
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


def seconds_each(fn: Callable[[], object], calls: int, device: torch.device) -> float:
    """Wall seconds per call of ``fn`` over ``calls`` calls, the device's queue drained before and after (CUDA
    runs asynchronously); warm-up is the caller's."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / calls
