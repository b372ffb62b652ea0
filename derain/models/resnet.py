"""MSRResNet-style restorer: conv head, N residual blocks without batch norm, conv tail, global residual.

Input and output (B, C, H, W); any H, W. The paper's setting is 16 blocks x 64 channels.
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """conv 3x3 -> ReLU -> conv 3x3, added to the input (no BN, as in MSRResNet/EDSR)."""

    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(width, width, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNet(nn.Module):
    """``depth`` residual blocks of ``width`` channels; predicts the residual added to the input."""

    def __init__(self, channels: int = 3, width: int = 64, depth: int = 16):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(channels, width, 3, padding=1), nn.LeakyReLU(0.1, inplace=True))
        self.body = nn.Sequential(*(ResidualBlock(width) for _ in range(depth)))
        self.tail = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(width, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.tail(self.body(self.head(x)))
