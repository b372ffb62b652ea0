"""Range and choice checks shared by every config validator; each raises a ``ConfigError`` naming the key.

Floats must be finite unless a bound is infinite, so NaN can never slip through a comparison.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from derain.errors import ConfigError


def check_choice(key: str, value: object, choices: Iterable[object]) -> None:
    """``value`` must be one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(f"{key}={value!r} is not one of {', '.join(map(str, choices))}")


def check_bounds(key: str, value: float, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> None:
    """``value`` must lie in [lo, hi] (or the open variants) and be a number (NaN is refused)."""
    below = value <= lo if lo_open else value < lo
    above = value >= hi if hi_open else value > hi
    if (isinstance(value, float) and math.isnan(value)) or below or above:
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ConfigError(f"{key}={value} is outside {left}{lo}, {hi}{right}")
