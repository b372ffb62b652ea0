"""The ``Space`` record every search-space module fills in: hypothesis, axes as data, metric/mode, sizes.

Axes are plain data so that spaces stay readable and testable without Ray: a grid axis is a list of values;
a sampled axis is a tuple ``(kind, *args)`` with kind one of ``choice`` (list of values), ``uniform``
(lo, hi), ``loguniform`` (lo, hi), ``randint`` / ``lograndint`` (lo, hi inclusive). Keys are dotted config
keys of the space's task (``derain`` for 2D, ``toy1d`` for the 1D analogue).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCALES = ("smoke", "cpu", "gpu", "paper")


@dataclass(frozen=True)
class Space:
    """One search space."""

    name: str
    hypothesis: str  # the module docstring: first line is the one-line hypothesis
    task: str  # derain | toy1d
    metric: str | tuple[str, ...]  # what the search optimises / the summary ranks by
    mode: str | tuple[str, ...]  # min | max, per metric
    grid: dict[str, dict[str, list[Any]]] = field(default_factory=dict)  # scale -> {key: values}
    sampled: dict[str, dict[str, tuple]] = field(default_factory=dict)  # scale -> {key: (kind, *args)}
    num_samples: dict[str, int] = field(default_factory=dict)  # scale -> trials drawn (sample-based spaces)
    fixed: dict[str, dict[str, Any]] = field(default_factory=dict)  # scale -> overrides for every trial
    columns: tuple[str, ...] = ("eval/unseen/removal", "eval/gap", "eval/heldout/psnr")  # live table
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
        """metric -> mode, in order (the first is the primary one: ASHA, best-trial tables)."""
        metrics = self.metric if isinstance(self.metric, tuple) else (self.metric,)
        modes = self.mode if isinstance(self.mode, tuple) else (self.mode,)
        return dict(zip(metrics, modes, strict=True))

    def axes(self, scale: str) -> tuple[dict[str, list[Any]], dict[str, tuple]]:
        """(grid axes, sampled axes) at ``scale``; explicit points appear as one grid axis ``point``."""
        grid = dict(self.grid.get(scale, {}))
        if scale in self.points:
            grid["point"] = list(self.points[scale])
        return grid, dict(self.sampled.get(scale, {}))

    def samples(self, scale: str) -> int:
        return self.num_samples.get(scale, 1)


def log2_grid(lo: int, hi: int, step: int = 1) -> list[int]:
    """Powers of two from ``lo`` to ``hi`` inclusive, every ``step``-th exponent."""
    out, n = [], lo
    while n <= hi:
        out.append(n)
        n *= 2**step
    return out
