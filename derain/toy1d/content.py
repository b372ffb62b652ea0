"""Clean 1D functions of controlled complexity, as (n, 1, L) float tensors in [0.25, 0.75]."""

from __future__ import annotations

import math

import torch


def _normalise(f: torch.Tensor) -> torch.Tensor:
    """Centre each function and scale its largest excursion to 0.25, around 0.5."""
    f = f - f.mean(dim=-1, keepdim=True)
    return 0.5 + 0.25 * f / f.abs().amax(dim=-1, keepdim=True).clamp_min(1e-8)


def fourier(count: int, terms: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """Random Fourier series sum_{k<=K} a_k cos(2 pi k x) + b_k sin(2 pi k x), a, b ~ N(0, 1) (no decay, so
    K sets the highest frequency and hence the complexity)."""
    x = torch.arange(length, dtype=torch.float64) / length
    k = torch.arange(1, terms + 1, dtype=torch.float64)
    phase = 2 * math.pi * k[:, None] * x[None, :]  # (K, L)
    a = torch.randn(count, terms, generator=generator, dtype=torch.float64)
    b = torch.randn(count, terms, generator=generator, dtype=torch.float64)
    f = a @ torch.cos(phase) + b @ torch.sin(phase)
    return _normalise(f).float().unsqueeze(1)


def piecewise(count: int, terms: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """K smooth pieces: each a random line plus a slow sine, with jumps at K-1 random breakpoints."""
    x = torch.arange(length, dtype=torch.float64) / length
    cuts = torch.sort(torch.rand(count, max(terms - 1, 0), generator=generator, dtype=torch.float64), dim=1).values
    piece = (x[None, None, :] >= cuts[:, :, None]).sum(dim=1)  # (n, L) index of the piece of each sample
    level, slope, wiggle = (torch.randn(count, terms, generator=generator, dtype=torch.float64) for _ in range(3))
    pick = lambda p: torch.gather(p, 1, piece)  # noqa: E731
    f = pick(level) + pick(slope) * x + 0.3 * pick(wiggle) * torch.sin(2 * math.pi * 2 * x)
    return _normalise(f).float().unsqueeze(1)


FAMILIES = {"fourier": fourier, "piecewise": piecewise}


def make_functions(family: str, count: int, terms: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """(count, 1, length) functions of ``family`` with complexity ``terms``, drawn with ``generator``."""
    return FAMILIES[family](count, terms, length, generator)
