"""Scale presets of the 1D task (same names as the 2D presets) and the one builder of a runnable 1D config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from derain.config.checks import check_bounds, check_choice
from derain.config.schema import with_overrides
from derain.config.validation import check_train
from derain.errors import ConfigError
from derain.toy1d.config import Toy1dConfig
from derain.toy1d.content import FAMILIES
from derain.toy1d.models import check_toy_model
from derain.toy1d.streaks import streak_spec

TOY_SCALES: dict[str, dict[str, Any]] = {
    "smoke": {
        "content.count": 16,
        "content.length": 64,
        "content.eval_functions": 8,
        "model.width": 8,
        "model.depth": 2,
        "train.iterations": 30,
        "train.batch_size": 16,
        "train.eval_every": 15,
        "train.log_every": 15,
    },
    # One core, well under a minute: a 4-layer 32-channel CNN on 128-sample signals takes ~9 ms per step at
    # batch 32 (backward dominates), so 2000 steps (64k samples) take about 20 s.
    "cpu": {
        "model.width": 32,
        "model.depth": 4,
        "train.iterations": 2000,
        "train.batch_size": 32,
        "train.eval_every": 500,
    },
    "gpu": {
        "model.width": 64,
        "model.depth": 6,
        "train.iterations": 20000,
        "train.batch_size": 256,
        "content.eval_functions": 256,
    },
    "paper": {
        "content.length": 256,
        "model.width": 128,
        "model.depth": 8,
        "train.iterations": 100000,
        "train.batch_size": 256,
        "content.eval_functions": 512,
        "train.eval_every": 10000,
    },
}


def validate_toy(cfg: Toy1dConfig) -> Toy1dConfig:
    """``cfg`` unchanged; ConfigError naming its first invalid field."""
    c = cfg.content
    check_choice("content.family", c.family, FAMILIES)
    check_bounds("content.terms", c.terms, 1, 10_000)
    check_bounds("content.count", c.count, 1, 10**7)
    check_bounds("content.length", c.length, 16, 65_536)
    check_bounds("content.eval_functions", c.eval_functions, 1, 10**6)
    check_bounds("streaks.degrade_probability", cfg.streaks.degrade_probability, 0, 1)
    check_toy_model(cfg.model)
    try:
        streak_spec(cfg.streaks.train, cfg.streaks)
    except ConfigError as err:
        if err.field is None:
            raise
        raise ConfigError(f"streaks.custom_{err.field}: {err.detail}") from None
    check_train(cfg.train)
    return cfg


def preset_toy_config(scale: str, overrides: Mapping[str, Any] | None = None) -> Toy1dConfig:
    """Toy1dConfig with the scale preset, then ``overrides``; keys and types checked, ranges not."""
    if scale not in TOY_SCALES:
        raise ConfigError(f"unknown scale '{scale}' (known: {', '.join(TOY_SCALES)})")
    return with_overrides(Toy1dConfig(), {**TOY_SCALES[scale], **dict(overrides or {})})


def make_toy_config(scale: str, overrides: Mapping[str, Any] | None = None) -> Toy1dConfig:
    """A runnable Toy1dConfig: ``preset_toy_config`` with every range and combination checked."""
    return validate_toy(preset_toy_config(scale, overrides))
