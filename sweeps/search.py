"""Turn a ``Space`` at a scale into what Tune runs: param space, searcher, scheduler, sample count.

Grid axes and an Optuna search coexist here, once for every space: Tune rejects ``grid_search`` inside
OptunaSearch, so when a space has both, each grid axis becomes a categorical Optuna axis and every grid point
is enqueued through ``points_to_evaluate`` (sampled axes at their range midpoints), and the sample count grows
to cover the grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import optuna
from ray import tune
from ray.tune.schedulers import ASHAScheduler, TrialScheduler
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from sweeps.spaces.base import Axes, Space, grid_points


@dataclass
class SearchPlan:
    param_space: dict[str, Any]
    search_alg: Searcher | None
    scheduler: TrialScheduler | None
    num_samples: int
    metric: str | None  # for TuneConfig (single objective only)
    mode: str | None


def _domain(spec: tuple) -> Any:
    kind, *args = spec
    if kind == "choice":
        return tune.choice(args[0])
    if kind == "uniform":
        return tune.uniform(*args)
    if kind == "loguniform":
        return tune.loguniform(*args)
    if kind == "randint":
        return tune.randint(args[0], args[1] + 1)  # Tune's upper bound is exclusive
    if kind == "lograndint":
        return tune.lograndint(args[0], args[1] + 1)
    raise ValueError(f"unknown axis kind '{kind}'")


def _midpoint(spec: tuple) -> Any:
    kind, *args = spec
    if kind == "choice":
        return args[0][0]
    if kind in ("loguniform", "lograndint"):
        mid = math.sqrt(args[0] * args[1])
        return round(mid) if kind == "lograndint" else mid
    mid = (args[0] + args[1]) / 2
    return round(mid) if kind == "randint" else mid


def _optuna(space: Space, points: list[dict], seed: int) -> OptunaSearch:
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True)
    metrics, modes = list(space.objectives), list(space.objectives.values())
    return OptunaSearch(
        metric=metrics if space.multi_objective else metrics[0],
        mode=modes if space.multi_objective else modes[0],
        sampler=sampler,
        points_to_evaluate=points or None,
    )


def _asha(space: Space, max_reports: int) -> ASHAScheduler:
    metric, mode = next(iter(space.objectives.items()))
    grace = min(2, max_reports)
    return ASHAScheduler(
        time_attr="training_iteration",
        metric=metric,
        mode=mode,
        max_t=max(max_reports, grace),
        grace_period=grace,
        reduction_factor=3,
    )


def repeat_points(points: list[dict[str, Any]], repeats: int, seed: int) -> list[dict[str, Any]]:
    """``repeats`` copies of every explicit point, each with its own seed: the point's seed (default ``seed``)
    plus i x the span of the points' seeds, so no two copies of any points coincide."""
    own = [p.get("seed", seed) for p in points]
    stride = max(own) - min(own) + 1
    return [{**p, "seed": s + i * stride} for i in range(repeats) for p, s in zip(points, own, strict=True)]


def plan(space: Space, axes: Axes, samples: int, seed: int, num_samples: int | None, max_reports: int) -> SearchPlan:
    """Build the Tune plan for ``space`` at one scale: its ``axes`` and default sample count ``samples``.

    ``num_samples``: the user's count (trials, or repeats of a grid); ``max_reports``: evaluations per trial.
    """
    grid, sampled = dict(axes.grid), dict(axes.sampled)
    if not sampled:  # pure grid: Tune's own grid search, every point runs to completion
        # Repeats of a deterministic grid only differ by their seed; explicit points carry their own seeds.
        if num_samples and num_samples > 1 and "point" in grid:
            grid["point"] = repeat_points(grid["point"], num_samples, seed)
        elif num_samples and num_samples > 1:
            grid["seed"] = [seed + i for i in range(num_samples)]
        metric, mode = next(iter(space.objectives.items()))
        grid_space = {k: tune.grid_search(v) for k, v in grid.items()}
        return SearchPlan(grid_space, None, None, 1, metric, mode)
    points = []
    if grid:
        points = [{**{k: _midpoint(s) for k, s in sampled.items()}, **p} for p in grid_points(grid)]
        sampled = {**sampled, **{k: ("choice", v) for k, v in grid.items()}}
    n = max(num_samples or samples, len(points))
    # metric/mode live in the searcher and the scheduler; Tune refuses them in TuneConfig as well.
    searcher, scheduler = _optuna(space, points, seed), _asha(space, max_reports)
    return SearchPlan({k: _domain(s) for k, s in sampled.items()}, searcher, scheduler, n, None, None)
