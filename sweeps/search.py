"""Turn a ``Space`` at a scale into what Tune runs: param space, searcher, scheduler, sample count.

Grid axes and an Optuna search coexist here, once for every space: Tune rejects ``grid_search`` inside
OptunaSearch, so when a space has both, each grid axis becomes a categorical Optuna axis and every grid point
is enqueued through ``points_to_evaluate`` (sampled axes at their range midpoints), and the sample count grows
to cover the grid.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from ray import tune
from ray.tune.schedulers import ASHAScheduler, TrialScheduler
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from derain.keys import TRAIN_STEP
from sweeps.members import MEMBERS
from sweeps.spaces.base import Axes, Space, grid_points


@dataclass
class TuneSetup:
    param_space: dict[str, Any]
    search_alg: Searcher | None
    scheduler: TrialScheduler | None
    num_samples: int
    metric: str | None  # for TuneConfig (single objective only)
    mode: str | None
    trials: int  # how many trials the sweep runs in all (grid points x repeats, or samples)


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


class PruningAwareOptunaSearch(OptunaSearch):
    """OptunaSearch that tells Optuna PRUNED, not COMPLETE, for a trial the scheduler stopped before its last
    step: a half-trained result must not steer the search, enter a Pareto front or an importance."""

    def __init__(self, *args: Any, final_step: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._final_step = final_step

    def _setup_study(self, mode: str | list[str]) -> None:
        super()._setup_study(mode)
        metrics = self._metric if isinstance(self._metric, list) else [self._metric]
        with warnings.catch_warnings():  # experimental since Optuna 3.2, stable in use; the warning is noise
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._ot_study.set_metric_names(metrics)  # optuna-dashboard shows the metric keys, not "0" and "1"

    def restore(self, checkpoint_path: str) -> None:
        """Restore (``--resume``), then close as FAIL the trials the dead driver had asked for after the state
        Tune restores was saved: Tune will never run them, and they would stay RUNNING in the persisted study.
        A trial the saved state knows and had not told is resumed by Tune and told when it finishes."""
        super().restore(checkpoint_path)
        pending = {t._trial_id for tid, t in self._ot_trials.items() if tid not in self._completed_trials}
        close_running(self._ot_study, keep=pending)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        stopped = not error and result is not None and result.get(TRAIN_STEP, self._final_step) < self._final_step
        if stopped and trial_id not in self._completed_trials:
            self._ot_study.tell(self._ot_trials[trial_id], state=optuna.trial.TrialState.PRUNED)
            self._completed_trials.add(trial_id)
            return
        super().on_trial_complete(trial_id, result, error)


def close_running(study: optuna.Study, keep: frozenset[int] | set[int] = frozenset()) -> int:
    """Mark the study's RUNNING trials FAIL, except the Optuna trial ids in ``keep``; how many were closed.
    After a sweep nothing runs, so whatever is still RUNNING was asked for and never told."""
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    closing = [t for t in running if t._trial_id not in keep]
    for trial in closing:  # the storage call: Study.tell would refuse a trial not asked in this process
        study._storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL)
    return len(closing)


def close_abandoned(study: Study) -> int:
    """``close_running`` on a persisted study, once a sweep has ended (the backstop: a driver killed between
    saving the searcher and Tune's trial list leaves a trial asked for that no one will run)."""
    return close_running(optuna.load_study(study_name=study.name, storage=study.storage))


def startup_trials(budget: int) -> int:
    """Random trials before TPE models the results: a quarter of the budget, 2 to 10, so that a small budget
    is guided for most of its trials (Optuna's default, 10, would make an 8-trial sweep a random search)."""
    return max(2, min(10, budget // 4))


@dataclass(frozen=True)
class Study:
    """Where the Optuna study lives (an RDB URL) and its name (the sweep's)."""

    storage: str
    name: str


def tpe_sampler(seed: int, budget: int) -> optuna.samplers.TPESampler:
    """The sweeps' sampler: multivariate TPE whose random start-up is sized to the trial budget."""
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=startup_trials(budget))


def _optuna(space: Space, points: list[dict], seed: int, budget: int, final_step: int, study: Study | None):
    sampler = tpe_sampler(seed, budget)
    metrics, modes = list(space.objectives), list(space.objectives.values())
    return PruningAwareOptunaSearch(
        metric=metrics if space.multi_objective else metrics[0],
        mode=modes if space.multi_objective else modes[0],
        sampler=sampler,
        points_to_evaluate=points or None,
        final_step=final_step,
        storage=optuna.storages.RDBStorage(study.storage) if study else None,
        study_name=study.name if study else None,
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


def tune_setup(
    space: Space,
    axes: Axes,
    samples: int,
    seed: int,
    num_samples: int | None,
    max_reports: int,
    final_step: int = 0,
    study: Study | None = None,
    ensembles: Callable[[list[dict]], list[list[dict]]] | None = None,
) -> TuneSetup:
    """Tune's set-up (param space, searcher, scheduler) for ``space`` at one scale: its ``axes`` and default
    sample count ``samples``.

    ``num_samples``: the user's count (trials, or repeats of a grid); ``max_reports``: evaluations per trial;
    ``final_step``: a trial's last iteration (one that reports less was stopped early: PRUNED in Optuna);
    ``study``: where Optuna persists the study (None: in memory, lost at the end); ``ensembles``: how a pure
    grid's points group into ensemble trials (``sweeps.members``; None: a trial per point).
    """
    grid, sampled = dict(axes.grid), dict(axes.sampled)
    if not sampled:  # pure grid: Tune's own grid search, every point runs to completion
        # Repeats of a deterministic grid only differ by their seed; explicit points carry their own seeds.
        if num_samples and num_samples > 1 and "point" in grid:
            grid["point"] = repeat_points(grid["point"], num_samples, seed)
        elif num_samples and num_samples > 1:
            grid["seed"] = [seed + i for i in range(num_samples)]
        groups = ensembles(grid_points(grid)) if ensembles is not None else []
        if any(len(e) > 1 for e in groups):  # Tune needs no metric: the members' results are prefixed
            return TuneSetup({MEMBERS: tune.grid_search(groups)}, None, None, 1, None, None, len(groups))
        metric, mode = next(iter(space.objectives.items()))
        grid_space = {k: tune.grid_search(v) for k, v in grid.items()}
        return TuneSetup(grid_space, None, None, 1, metric, mode, math.prod(len(v) for v in grid.values()))
    points = []
    if grid:
        points = [{**{k: _midpoint(s) for k, s in sampled.items()}, **p} for p in grid_points(grid)]
        sampled = {**sampled, **{k: ("choice", v) for k, v in grid.items()}}
    n = max(num_samples or samples, len(points))
    # metric/mode live in the searcher and the scheduler; Tune refuses them in TuneConfig as well.
    searcher = _optuna(space, points, seed, n, final_step, study)
    scheduler = _asha(space, max_reports)
    return TuneSetup({k: _domain(s) for k, s in sampled.items()}, searcher, scheduler, n, None, None, n)
