"""Model registry: restoration networks that map a degraded image (B, C, H, W) to a restored one, same shape.

``build_model(cfg, channels)`` looks the name up in ``REGISTRY``; every architecture has a ``*_tiny`` variant
(fixed small size) for tests. Outputs are not clamped during training; evaluation clamps to [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from derain.config import ModelConfig
from derain.errors import ConfigError
from derain.models.resnet import ResNet
from derain.models.swinir import SwinIRLight
from derain.models.unet import UNet

Builder = Callable[[ModelConfig, int], nn.Module]

REGISTRY: dict[str, Builder] = {
    "resnet": lambda m, c: ResNet(c, m.width, m.depth),
    "resnet_tiny": lambda m, c: ResNet(c, 8, 2),
    "unet": lambda m, c: UNet(c, m.width, m.levels),
    "unet_tiny": lambda m, c: UNet(c, 8, 2),
    "swinir_light": lambda m, c: SwinIRLight(c, m.width, m.depth, m.window, m.heads),
    "swinir_light_tiny": lambda m, c: SwinIRLight(c, 12, 2, 4, 2),
}


def build_model(cfg: ModelConfig, channels: int) -> nn.Module:
    """Instantiate ``cfg.name`` for ``channels`` (1 or 3) input/output channels."""
    if cfg.name not in REGISTRY:
        raise ConfigError(f"model.name='{cfg.name}' is unknown (known: {', '.join(REGISTRY)})")
    return REGISTRY[cfg.name](cfg, channels)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
