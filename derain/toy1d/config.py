"""Frozen configuration of the 1D toy task, its validation and its scale presets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from derain.config import TrainConfig, with_overrides
from derain.errors import ConfigError


@dataclass(frozen=True)
class ContentConfig:
    """Clean functions: family, complexity and count."""

    family: str = "fourier"  # fourier | piecewise
    terms: int = 8  # K: Fourier terms or smooth pieces (complexity)
    count: int = 64  # M: distinct training functions
    length: int = 128  # samples per function, >= 16
    eval_functions: int = 64  # functions per evaluation set
    seed: int = 0  # content seed: the training functions, held-out functions, evaluation streaks


@dataclass(frozen=True)
class StreakConfig:
    """Training streaks: a named range, a '+'-joined union, or 'custom'."""

    train: str = "narrow"
    custom_density: tuple[float, float] = (0.01, 0.03)  # spike probability per sample, in (0, 1)
    custom_width: tuple[int, int] = (1, 3)  # box width in samples
    custom_amplitude: tuple[float, float] = (0.2, 0.4)  # spike height (signals live in [0.25, 0.75])
    degrade_probability: float = 0.9  # share of training samples that get streaks


@dataclass(frozen=True)
class Toy1dModelConfig:
    name: str = "cnn"  # mlp | cnn | mlp_tiny | cnn_tiny
    width: int = 64  # hidden units (mlp) or channels (cnn)
    depth: int = 4  # hidden layers (mlp) or conv layers (cnn)


def _toy_train() -> TrainConfig:
    # MSE: with sparse residuals an L1 loss is minimised by predicting no correction at all (DESIGN §6).
    return TrainConfig(iterations=3000, batch_size=64, lr=1e-3, loss="l2", schedule="cosine", eval_every=1000,
                       log_every=500, eval_batch=256)  # fmt: skip


@dataclass(frozen=True)
class Toy1dConfig:
    seed: int = 0  # training seed (initialisation, batch order)
    content: ContentConfig = field(default_factory=ContentConfig)
    streaks: StreakConfig = field(default_factory=StreakConfig)
    model: Toy1dModelConfig = field(default_factory=Toy1dModelConfig)
    train: TrainConfig = field(default_factory=_toy_train)

    def validate(self) -> None:
        validate_toy(self)


TOY_SCALES: dict[str, dict[str, Any]] = {
    "smoke": {"content.count": 16, "content.length": 64, "content.eval_functions": 8, "model.width": 8,
              "model.depth": 2, "train.iterations": 30, "train.batch_size": 16, "train.eval_every": 15,
              "train.log_every": 15},
    # One core, well under a minute: a 4-layer 32-channel CNN on 128-sample signals takes ~9 ms per step at
    # batch 32 (backward dominates), so 2000 steps (64k samples) take about 20 s.
    "cpu": {"model.width": 32, "model.depth": 4, "train.iterations": 2000, "train.batch_size": 32,
            "train.eval_every": 500},
    "gpu": {"model.width": 64, "model.depth": 6, "train.iterations": 20000, "train.batch_size": 256,
            "content.eval_functions": 256},
    "paper": {"content.length": 256, "model.width": 128, "model.depth": 8, "train.iterations": 100000,
              "train.batch_size": 256, "content.eval_functions": 512, "train.eval_every": 10000},
}  # fmt: skip


def validate_toy(cfg: Toy1dConfig) -> None:
    """Raise ConfigError naming the first invalid field."""
    from derain.toy1d.models import TOY_MODELS
    from derain.toy1d.streaks import streak_spec
    from derain.validation import _check_bounds, check_train

    c = cfg.content
    if c.family not in ("fourier", "piecewise"):
        raise ConfigError(f"content.family='{c.family}' is not one of fourier, piecewise")
    _check_bounds("content.terms", c.terms, 1, 10_000)
    _check_bounds("content.count", c.count, 1, 10**7)
    _check_bounds("content.length", c.length, 16, 65_536)
    _check_bounds("content.eval_functions", c.eval_functions, 1, 10**6)
    _check_bounds("streaks.degrade_probability", cfg.streaks.degrade_probability, 0, 1)
    if cfg.model.name not in TOY_MODELS:
        raise ConfigError(f"model.name='{cfg.model.name}' is unknown (known: {', '.join(TOY_MODELS)})")
    _check_bounds("model.width", cfg.model.width, 1, 65_536)
    _check_bounds("model.depth", cfg.model.depth, 1, 1024)
    try:
        streak_spec(cfg.streaks.train, cfg.streaks)
    except ConfigError as err:
        if err.field is None:
            raise
        raise ConfigError(f"streaks.custom_{err.field}: {err.detail}") from None
    check_train(cfg.train)


def make_toy_config(scale: str, overrides: Mapping[str, Any] | None = None) -> Toy1dConfig:
    """Toy1dConfig with the scale preset, then ``overrides`` applied and validated."""
    if scale not in TOY_SCALES:
        raise ConfigError(f"unknown scale '{scale}' (known: {', '.join(TOY_SCALES)})")
    return with_overrides(Toy1dConfig(), {**TOY_SCALES[scale], **dict(overrides or {})})
