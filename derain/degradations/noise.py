"""Denoising analogue: Gaussian and Poisson noise behind the same contract as rain.

``apply(clean, generator) -> (noisy, layer)`` with clean (B, C, H, W) in [0, 1]; ``layer`` (B, 1, H, W) in
[0, 1] is the per-pixel noise magnitude (mean over channels of |noisy - clean|). Noise covers the whole image,
so ``masked`` is False and metrics use the whole image instead of a rain/background split.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from derain.degradations.unions import UnionSpec, resolve_spec
from derain.errors import ConfigError


@dataclass(frozen=True)
class NoiseRange:
    """One noise type: Gaussian with sigma (8-bit levels) or Poisson with a photon peak, drawn per image."""

    name: str
    kind: str  # gaussian | poisson
    low: float  # gaussian: sigma in 0..255 levels; poisson: peak photon count (lower = noisier)
    high: float

    def __post_init__(self) -> None:
        if self.kind not in ("gaussian", "poisson"):
            raise ConfigError(f"noise '{self.name}': kind must be gaussian or poisson, got '{self.kind}'")
        detail = None
        if self.low > self.high:
            detail = f"min {self.low} > max {self.high}"
        elif self.low <= 0:
            detail = f"range must be positive, got ({self.low}, {self.high})"
        if detail:
            raise ConfigError(f"noise '{self.name}': {detail}", field="sigma", detail=detail)

    def covers(self, other: NoiseRange) -> bool:
        return self.kind == other.kind and self.low <= other.low and other.high <= self.high


NOISE_TYPES: dict[str, NoiseRange] = {
    "gauss_low": NoiseRange("gauss_low", "gaussian", 5.0, 15.0),
    "gauss_mid": NoiseRange("gauss_mid", "gaussian", 15.0, 30.0),
    "gauss_high": NoiseRange("gauss_high", "gaussian", 30.0, 50.0),
    "poisson": NoiseRange("poisson", "poisson", 20.0, 60.0),
}


@dataclass(frozen=True)
class NoiseSpec(UnionSpec):
    """A union of noise ranges; each image draws one component uniformly."""

    family = "noise"
    masked = False

    def apply(self, clean: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Noisy images (B, C, H, W) in [0, 1] and noise magnitude (B, 1, H, W) in [0, 1]."""
        return add_noise(clean, self, generator)


def noise_spec(spec: str | NoiseRange | NoiseSpec) -> NoiseSpec:
    """Resolve a name, a '+'-joined union of names, a range or a spec."""
    return resolve_spec(spec, NoiseSpec, NoiseRange, NOISE_TYPES, "noise type")


def add_noise(
    clean: torch.Tensor, spec: str | NoiseSpec, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Add noise drawn with ``generator`` (its device) to ``clean`` (B, C, H, W) in [0, 1]."""
    spec = noise_spec(spec)
    g, b = generator, clean.shape[0]
    choice = torch.randint(len(spec.components), (b,), generator=g, device=g.device)
    levels = torch.rand(b, generator=g, device=g.device, dtype=torch.float64)
    base = clean.to(g.device)
    gauss = torch.randn(base.shape, generator=g, device=g.device, dtype=base.dtype)
    noisy = torch.empty_like(base)
    for i, comp in enumerate(spec.components):
        level = (comp.low + (comp.high - comp.low) * levels).to(base.dtype).view(-1, 1, 1, 1)
        if comp.kind == "gaussian":
            candidate = base + gauss * level / 255.0
        else:
            candidate = torch.poisson(base * level, generator=g) / level
        noisy = torch.where((choice == i).view(-1, 1, 1, 1), candidate, noisy)
    noisy = noisy.clamp(0.0, 1.0).to(clean.device)
    layer = (noisy - clean).abs().mean(dim=1, keepdim=True).clamp(0.0, 1.0)
    return noisy, layer
