"""Model registry: restoration networks that map a degraded image (B, C, H, W) to a restored one, same shape.

``build_model(cfg, channels)`` looks the name up in ``REGISTRY``; every architecture has a ``*_tiny`` variant
(fixed small size) for tests. Outputs are not clamped during training; evaluation clamps to [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from derain.config.checks import check_bounds
from derain.config.schema import ModelConfig
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


def check_model(cfg: ModelConfig) -> None:
    """The name is registered and the sizes fit the architecture; ConfigError naming the key otherwise."""
    if cfg.name not in REGISTRY:
        raise ConfigError(f"model.name='{cfg.name}' is unknown (known: {', '.join(REGISTRY)})")
    for key in ("width", "depth", "levels", "window", "heads"):
        check_bounds(f"model.{key}", getattr(cfg, key), 1, 4096)
    if cfg.name == "swinir_light" and cfg.width % cfg.heads:
        raise ConfigError(f"model.width={cfg.width} must be divisible by model.heads={cfg.heads}")


def build_model(cfg: ModelConfig, channels: int) -> nn.Module:
    """Instantiate ``cfg.name`` for ``channels`` (1 or 3) input/output channels."""
    check_model(cfg)
    return REGISTRY[cfg.name](cfg, channels)
