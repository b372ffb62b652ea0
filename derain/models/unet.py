"""U-Net restorer: ``levels`` down/up stages, width doubling per level, skip concatenation, global residual.

Input and output (B, C, H, W); H and W are padded (reflect) to a multiple of 2**levels and cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.LeakyReLU(0.1, inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.LeakyReLU(0.1, inplace=True),
    )


class UNet(nn.Module):
    """Encoder widths ``width * 2**i`` for i in 0..levels; stride-2 conv down, transposed conv up."""

    def __init__(self, channels: int = 3, width: int = 32, levels: int = 3):
        super().__init__()
        widths = [width * 2**i for i in range(levels + 1)]
        self.levels = levels
        self.head = _block(channels, widths[0])
        self.down = nn.ModuleList(nn.Conv2d(widths[i], widths[i], 2, stride=2) for i in range(levels))
        self.enc = nn.ModuleList(_block(widths[i], widths[i + 1]) for i in range(levels))
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(levels))
        self.dec = nn.ModuleList(_block(2 * widths[i], widths[i]) for i in range(levels))
        self.tail = nn.Conv2d(widths[0], channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2**self.levels
        pad = (0, (-w) % m, 0, (-h) % m)
        y = F.pad(x, pad, mode="reflect") if any(pad) else x
        skips = [self.head(y)]
        for down, enc in zip(self.down, self.enc, strict=True):
            skips.append(enc(down(skips[-1])))
        y = skips.pop()
        for i in reversed(range(self.levels)):
            y = self.dec[i](torch.cat([self.up[i](y), skips.pop()], dim=1))
        return x + self.tail(y)[..., :h, :w]
