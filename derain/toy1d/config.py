"""Frozen configuration of the 1D toy task (its presets and checks live in ``derain.toy1d.scales``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from derain.config.schema import TrainConfig


@dataclass(frozen=True)
class ContentConfig:
    """Clean functions: family, complexity and count."""

    family: str = "fourier"  # fourier | piecewise
    terms: int = 8  # K: Fourier terms or smooth pieces (complexity)
    count: int = 64  # M: distinct training functions
    length: int = 128  # samples per function, >= 16
    eval_functions: int = 64  # functions per evaluation set
    seed: int = 0  # content seed: held-out functions and evaluation streaks (the exam); not the M drawn


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
    return TrainConfig(
        iterations=3000,
        batch_size=64,
        lr=1e-3,
        loss="l2",
        schedule="cosine",
        eval_every=1000,
        log_every=500,
        eval_batch=256,
    )


@dataclass(frozen=True)
class Toy1dConfig:
    seed: int = 0  # replicate seed: which M training functions are drawn, initialisation, batch order
    content: ContentConfig = field(default_factory=ContentConfig)
    streaks: StreakConfig = field(default_factory=StreakConfig)
    model: Toy1dModelConfig = field(default_factory=Toy1dModelConfig)
    train: TrainConfig = field(default_factory=_toy_train)
