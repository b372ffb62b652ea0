"""Rain that no part of this project generated: albumentations ``RandomRain`` behind the rain contract.

Used only for evaluation, as degradation the network can never have seen. The transform is configured to
leave the background untouched (``brightness_coefficient=1``), so ``rainy - clean`` is the rain alone and the
rain layer is its per-pixel magnitude: mean over channels of (rainy - clean), in [0, 1] (not min-max
normalised, so the 50/255 mask threshold means "changed by at least 50 levels"). Runs per image on the CPU;
albumentations ignores global seeds, so each image's transform is seeded from the torch generator.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    import albumentations as A

DROP_LENGTH_PX = 20  # at 128 px, scaled with the patch size
SLANT_PX = 10.0  # max horizontal drift of a drop, at 128 px


class ThirdPartyRain:
    """albumentations ``RandomRain`` (heavy, slanted, lightly blurred drops) with the rain contract."""

    name = "albu"
    family = "rain"
    masked = True

    def covers(self, other: object) -> bool:
        return isinstance(other, ThirdPartyRain)

    def apply(self, clean: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """clean (B, C, H, W) in [0, 1] -> (rainy (B, C, H, W), layer (B, 1, H, W)), both in [0, 1]."""
        seeds = torch.randint(0, 2**31 - 1, (clean.shape[0],), generator=generator, device=generator.device)
        images = clean.detach().cpu()
        deltas = [self._delta(img, int(s)) for img, s in zip(images, seeds.tolist(), strict=True)]
        delta = torch.from_numpy(np.stack(deltas)).to(clean.device, clean.dtype)
        rainy = torch.clamp(clean + delta, 0.0, 1.0)
        layer = (rainy - clean).mean(dim=1, keepdim=True).clamp(0.0, 1.0)
        return rainy, layer

    def _transform(self, size_px: int, seed: int) -> A.RandomRain:
        # Imported here: half a second that 1D trials and the sweep driver never need. albumentations asks PyPI
        # for a newer version when imported; nothing here may touch the network at run time.
        os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
        import albumentations as A

        scale = size_px / 128
        rain = A.RandomRain(
            slant_range=(-SLANT_PX * scale, SLANT_PX * scale),
            drop_length=max(2, round(DROP_LENGTH_PX * scale)),
            drop_width=1,
            drop_color=(200, 200, 200),
            blur_value=3,
            brightness_coefficient=1.0,
            rain_type="heavy",
            p=1.0,
        )
        rain.set_random_seed(seed)
        return rain

    def _delta(self, image: torch.Tensor, seed: int) -> np.ndarray:
        """Additive rain (C, H, W) float32 for one image (C, H, W) in [0, 1]."""
        u8 = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        rgb = np.repeat(u8, 3, axis=2) if u8.shape[2] == 1 else u8
        out = self._transform(u8.shape[0], seed)(image=np.ascontiguousarray(rgb))["image"]
        delta = (out.astype(np.float32) - rgb.astype(np.float32)) / 255.0
        if u8.shape[2] == 1:
            delta = delta.mean(axis=2, keepdims=True)
        return delta.transpose(2, 0, 1)
