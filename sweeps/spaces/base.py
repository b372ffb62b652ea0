"""The ``Space`` record every search-space module fills in: hypothesis, axes as data, metric/mode, sizes.

Axes are plain data so that spaces stay readable and testable without Ray: a grid axis is a list of values;
a sampled axis is a tuple ``(kind, *args)`` with kind one of ``choice`` (list of values), ``uniform``
(lo, hi), ``loguniform`` (lo, hi), ``randint`` / ``lograndint`` (lo, hi inclusive). Keys are dotted config
keys of the space's task (``derain`` for 2D, ``toy1d`` for the 1D analogue). Metric keys and their
directions come from ``derain.keys``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from derain.keys import GAP, UNSEEN_REMOVAL, YARDSTICK_E_B, YARDSTICK_GAIN, direction


@dataclass(frozen=True)
class Axes:
    """A space's axes at one scale: grid axes (key -> values) and sampled axes (key -> (kind, *args))."""

    grid: dict[str, list[Any]]
    sampled: dict[str, tuple]

    @property
    def keys(self) -> list[str]:
        return [*self.grid, *self.sampled]


@dataclass(frozen=True)
class Space:
    """One search space."""

    name: str
    hypothesis: str  # the module docstring: first line is the one-line hypothesis
    task: str  # a name in derain.tasks.TASKS: derain | toy1d
    metric: str | tuple[str, ...]  # what the search optimises / the summary ranks by (directions: derain.keys)
    grid: dict[str, dict[str, list[Any]]] = field(default_factory=dict)  # scale -> {key: values}
    sampled: dict[str, dict[str, tuple]] = field(default_factory=dict)  # scale -> {key: (kind, *args)}
    num_samples: dict[str, int] = field(default_factory=dict)  # scale -> trials drawn (sample-based spaces)
    fixed: dict[str, dict[str, Any]] = field(default_factory=dict)  # scale -> overrides for every trial
    columns: tuple[str, ...] = (YARDSTICK_GAIN, YARDSTICK_E_B, UNSEEN_REMOVAL, GAP)  # live table
    # scale -> explicit trials, each a dict of overrides that may name its own "task": for spaces that mix
    # tasks or whose trials are not a product of axes (the claims space)
    points: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    report: bool = False  # run analysis/report.py on the sweep when it ends

    @property
    def summary(self) -> str:
        return self.hypothesis.strip().splitlines()[0]

    @property
    def multi_objective(self) -> bool:
        return isinstance(self.metric, tuple)

    @property
    def objectives(self) -> dict[str, str]:
        """metric -> 'min' | 'max', in order (the first is the primary one: ASHA, best-trial tables)."""
        metrics = self.metric if isinstance(self.metric, tuple) else (self.metric,)
        return {m: direction(m) for m in metrics}

    def axes(self, scale: str) -> Axes:
        """The axes at ``scale``; explicit points appear as one grid axis ``point``."""
        grid = dict(self.grid.get(scale, {}))
        if scale in self.points:
            grid["point"] = list(self.points[scale])
        return Axes(grid, dict(self.sampled.get(scale, {})))

    def samples(self, scale: str) -> int:
        return self.num_samples.get(scale, 1)


def log2_grid(lo: int, hi: int, step: int = 1) -> list[int]:
    """Powers of two from ``lo`` to ``hi`` inclusive, every ``step``-th exponent."""
    out, n = [], lo
    while n <= hi:
        out.append(n)
        n *= 2**step
    return out


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, as dicts (the product over keys, in key order)."""
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]
