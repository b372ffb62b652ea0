"""Training batches: the N background patches, augmented, degraded with probability p, on the device."""

from __future__ import annotations

import torch

from derain.config.schema import Config
from derain.data.banks import PatchBank
from derain.degradations import Degradation


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random element of the dihedral group per image (flips and transposes; square patches)."""
    flags = torch.rand(3, x.shape[0], 1, 1, 1, generator=generator, device=generator.device)
    flags = flags.to(x.device) < 0.5
    x = torch.where(flags[0], x.flip(-1), x)
    x = torch.where(flags[1], x.flip(-2), x)
    return torch.where(flags[2], x.transpose(-2, -1), x)


class TrainSampler:
    """Random training batches from the N background patches, degraded with probability p."""

    def __init__(self, backgrounds: PatchBank, degradation: Degradation, cfg: Config, device: torch.device):
        self.patches = backgrounds.patches.to(device)  # uint8 (N, C, S, S): 4x smaller than float on device
        self.degradation = degradation
        self.probability = cfg.data.degrade_probability
        self.augment = cfg.data.augment

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(degraded, clean), both (batch, C, S, S) float in [0, 1] on the patches' device.

        ``generator`` must live on that device; it is the only source of randomness.
        """
        g = generator
        idx = torch.randint(len(self.patches), (batch_size,), generator=g, device=g.device)
        clean = self.patches[idx.to(self.patches.device)].float() / 255.0
        if self.augment:
            clean = _augment(clean, g)
        degraded, _ = self.degradation.apply(clean, g)
        keep = torch.rand(batch_size, generator=g, device=g.device).to(clean.device) < self.probability
        return torch.where(keep.view(-1, 1, 1, 1), degraded, clean), clean
