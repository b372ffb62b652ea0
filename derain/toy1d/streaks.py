"""Sparse 'streak' degradation of 1D signals: spikes of random height convolved with a box of width w.

``apply(clean (n, 1, L), generator) -> (degraded, support)``: degraded = clean + streaks (not clipped), and
``support`` (n, 1, L) is 1.0 where a streak touches the signal (the mask for e_r / e_b), else 0.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from derain.degradations.unions import UnionSpec, parse_union
from derain.errors import ConfigError


@dataclass(frozen=True)
class StreakRange:
    name: str
    density: tuple[float, float]  # spike probability per sample
    width: tuple[int, int]  # box width in samples (per function)
    amplitude: tuple[float, float]  # spike height (per spike)

    def __post_init__(self) -> None:
        for field, (lo, hi) in (("density", self.density), ("width", self.width), ("amplitude", self.amplitude)):
            if lo > hi:
                raise ConfigError(f"streaks '{self.name}': {field} min {lo} > max {hi}", field, f"min {lo} > max {hi}")
        if not (self.density[0] > 0 and self.density[1] < 1):
            raise ConfigError(
                f"streaks '{self.name}': density {self.density} outside (0, 1)",
                "density",
                f"range {self.density} is outside (0, 1)",
            )
        for field, lo in (("width", self.width[0]), ("amplitude", self.amplitude[0])):
            if lo <= 0:
                raise ConfigError(f"streaks '{self.name}': {field} must be positive", field, "must be positive")

    def covers(self, other: StreakRange) -> bool:
        pairs = ((self.density, other.density), (self.width, other.width), (self.amplitude, other.amplitude))
        return all(lo <= olo and ohi <= hi for (lo, hi), (olo, ohi) in pairs)


STREAK_TYPES: dict[str, StreakRange] = {
    "narrow": StreakRange("narrow", (0.01, 0.03), (1, 3), (0.2, 0.4)),  # training
    "wide": StreakRange("wide", (0.01, 0.03), (5, 11), (0.2, 0.4)),
    "dense": StreakRange("dense", (0.05, 0.10), (1, 3), (0.2, 0.4)),
    "strong": StreakRange("strong", (0.01, 0.03), (1, 3), (0.6, 1.0)),
    "extreme": StreakRange("extreme", (0.05, 0.10), (5, 11), (0.6, 1.0)),
    # The widest training range: contains 'narrow' only; every other named range pokes out of it somewhere,
    # and 'extreme' lies outside every training range, as the unseen yardstick.
    "broad": StreakRange("broad", (0.005, 0.08), (1, 9), (0.1, 0.8)),
}


# The training-streak ladder, narrowest first (the 1D analogue of the rain-diversity ladder).
STREAK_LADDER = ("narrow", "narrow+wide", "broad")


@dataclass(frozen=True)
class StreakSpec(UnionSpec):
    """A union of streak ranges; each function draws one component."""

    family = "streaks"
    masked = True

    def apply(self, clean: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return add_streaks(clean, self, generator)


# The 1D yardstick: streaks of training amplitude and density but a width no training range has (broad and wide
# stop at 11), so removing them takes knowing the content, not the streak shape; unlike 'extreme', it does not
# saturate removal.
YARDSTICK_STREAKS: dict[str, StreakSpec] = {
    "thick": StreakSpec((StreakRange("thick", (0.01, 0.03), (13, 21), (0.2, 0.4)),))
}


def streak_spec(name: str, custom=None) -> StreakSpec:
    """Resolve a name, a '+'-joined union, or 'custom' (ranges from a StreakConfig ``custom``)."""
    if name == "custom" and custom is not None:
        return StreakSpec((StreakRange("custom", custom.custom_density, custom.custom_width, custom.custom_amplitude),))
    try:
        return StreakSpec(parse_union(name, STREAK_TYPES, "streaks"))
    except ConfigError:
        raise ConfigError(
            f"streaks.train='{name}' is unknown (known: {', '.join(STREAK_TYPES)}, custom; join with '+')"
        ) from None


def _uniform(lo: float, hi: float, shape: tuple[int, ...], g: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=g, device=g.device)


def add_streaks(clean: torch.Tensor, spec: StreakSpec, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """clean (n, 1, L) -> (clean + streaks, support (n, 1, L) in {0, 1}); all randomness from ``g``."""
    n, _, length = clean.shape
    choice = torch.randint(len(spec.components), (n,), generator=g, device=g.device)
    pick = lambda vals: torch.stack(vals)[choice, torch.arange(n, device=g.device)]  # noqa: E731
    density = pick([_uniform(*c.density, (n,), g) for c in spec.components])
    width = pick(
        [torch.randint(c.width[0], c.width[1] + 1, (n,), generator=g, device=g.device) for c in spec.components]
    )
    heights = [_uniform(*c.amplitude, (n, length), g) for c in spec.components]
    height = torch.stack(heights)[choice, torch.arange(n, device=g.device)]
    spikes = (torch.rand(n, length, generator=g, device=g.device) < density[:, None]) * height
    wmax = int(width.max().item())
    taps = torch.arange(wmax, device=g.device)
    boxes = (taps[None, :] < width[:, None]).float()  # (n, wmax), left-aligned box of each function's width
    streaks = F.conv1d(F.pad(spikes[None], (wmax - 1, 0)), boxes.flip(-1)[:, None, :], groups=n)[0]
    streaks = streaks.unsqueeze(1).to(clean.device, clean.dtype)
    return clean + streaks, (streaks > 0).to(clean.dtype)
