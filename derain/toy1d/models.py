"""1D restorers for (B, 1, L) signals: an MLP over the whole signal and a residual 1D CNN."""

from __future__ import annotations

import torch
from torch import nn

from derain.config.checks import check_bounds
from derain.errors import ConfigError
from derain.toy1d.config import Toy1dModelConfig


class MLP(nn.Module):
    """Fully connected over all L samples; predicts the correction added to the input."""

    def __init__(self, length: int, width: int, depth: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(length, width), nn.ReLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(width, length))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x.flatten(1)).view_as(x)


class CNN1d(nn.Module):
    """``depth`` conv layers (kernel 5) of ``width`` channels; predicts the correction added to the input."""

    def __init__(self, width: int, depth: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(1, width, 5, padding=2), nn.ReLU()]
        for _ in range(depth - 1):
            layers += [nn.Conv1d(width, width, 5, padding=2), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Conv1d(width, 1, 5, padding=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


TOY_MODELS = {
    "mlp": lambda m, length: MLP(length, m.width, m.depth),
    "mlp_tiny": lambda m, length: MLP(length, 16, 1),
    "cnn": lambda m, length: CNN1d(m.width, m.depth),
    "cnn_tiny": lambda m, length: CNN1d(8, 2),
}


def check_toy_model(cfg: Toy1dModelConfig) -> None:
    """The name is registered and the sizes are in range; ConfigError naming the key otherwise."""
    if cfg.name not in TOY_MODELS:
        raise ConfigError(f"model.name='{cfg.name}' is unknown (known: {', '.join(TOY_MODELS)})")
    check_bounds("model.width", cfg.width, 1, 65_536)
    check_bounds("model.depth", cfg.depth, 1, 1024)


def build_toy_model(cfg: Toy1dModelConfig, length: int) -> nn.Module:
    """The restorer ``cfg.name`` for (B, 1, ``length``) signals."""
    check_toy_model(cfg)
    return TOY_MODELS[cfg.name](cfg, length)
