"""Configs of the 2D task: what a run is, how a dict of dotted overrides becomes one, and whether it can run.

- ``schema``: the frozen dataclasses (``Config`` and its sections), ``with_overrides``, ``parse_assignment``,
  ``to_dict`` / ``flatten``.
- ``presets``: the scale presets (``SCALES``) and ``make_config`` / ``preset_config``.
- ``checks`` and ``validation``: range, name and combination checks with one-line errors naming the key.

``from derain.config import Config, make_config`` works as before the package existed. The schema names are
imported here; the presets' on first use (``__getattr__``): presets -> validation -> models, data and the loop,
which import the schema, so importing them here would make every ``import derain.config.schema`` load them
half-initialised.
"""

from __future__ import annotations

from typing import Any

from derain.config.schema import (
    Config,
    DataConfig,
    ModelConfig,
    NoiseConfig,
    PriorConfig,
    RainConfig,
    TrainConfig,
    flatten,
    parse_assignment,
    to_dict,
    with_overrides,
)

_PRESETS = ("SCALES", "SCALE_NAMES", "SMALL_SCALES", "make_config", "preset_config")

__all__ = [
    "Config",
    "DataConfig",
    "ModelConfig",
    "NoiseConfig",
    "PriorConfig",
    "RainConfig",
    "TrainConfig",
    "flatten",
    "parse_assignment",
    "to_dict",
    "with_overrides",
    *_PRESETS,
]


def __getattr__(name: str) -> Any:
    if name in _PRESETS:
        from derain.config import presets

        return getattr(presets, name)
    raise AttributeError(f"module 'derain.config' has no attribute {name!r}")
