"""Does the configured search search? Hypervolume of the Pareto front after B trials: TPE as the sweeps
configure it (``sweeps.search.tpe_sampler``: multivariate, random start-up sized to the budget) versus
Optuna's RandomSampler, same budget, several searcher seeds, in one run.

    python benchmarks/bench_search.py [--budget 8] [--seeds 5] [--iterations 300]

The problem is a cheap balance problem with a real trade-off, the 1D analogue: fit1d over the number of
training functions M (log 1..4096), their complexity K (2..64) and the training-streak ladder, minimising the
yardstick's streak-region error ``eval/yardstick/e_r`` and background error ``eval/yardstick/e_b`` (the
balance space's objectives). Every trial trains for real; identical proposals are trained once. The reference
point of the hypervolume is 1.1 x the worst value of each objective over every trial of both samplers, so
both fronts are measured in the same box. Prints each seed's hypervolumes and the ratio of the means.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import optuna
from optuna._hypervolume import compute_hypervolume  # private, stable since Optuna 3; a benchmark may use it

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from derain.keys import YARDSTICK_E_B, YARDSTICK_E_R
from derain.toy1d import fit1d, make_toy_config
from derain.toy1d.streaks import STREAK_LADDER
from sweeps.search import tpe_sampler

OBJECTIVES = (YARDSTICK_E_R, YARDSTICK_E_B)


def make_objective(iterations: int, cache: dict):
    """Optuna objective: (yardstick e_r, yardstick e_b) of one fit1d trial; results cached by params."""

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        params = (
            trial.suggest_int("content.count", 1, 4096, log=True),
            trial.suggest_int("content.terms", 2, 64, log=True),
            trial.suggest_categorical("streaks.train", list(STREAK_LADDER)),
        )
        if params not in cache:
            overrides = dict(zip(("content.count", "content.terms", "streaks.train"), params, strict=True))
            cfg = make_toy_config(
                "smoke", {**overrides, "train.iterations": iterations, "train.eval_every": iterations}
            )
            metrics = fit1d(cfg)
            cache[params] = tuple(metrics[k] for k in OBJECTIVES)
        return cache[params]

    return objective


def run(sampler: optuna.samplers.BaseSampler, budget: int, objective) -> np.ndarray:
    """(budget, 2) objective values of one study."""
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=budget)
    return np.array([t.values for t in study.trials])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=int, default=8, help="trials per study (the default balance job runs 8)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--iterations", type=int, default=300, help="training steps per 1D trial")
    args = p.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cache: dict = {}
    objective = make_objective(args.iterations, cache)
    start = time.perf_counter()
    values = {
        name: [run(make(seed), args.budget, objective) for seed in range(args.seeds)]
        for name, make in (
            ("tpe", lambda s: tpe_sampler(s, args.budget)),
            ("random", lambda s: optuna.samplers.RandomSampler(seed=s)),
        )
    }
    every = np.concatenate([v for runs in values.values() for v in runs])
    reference = every.max(axis=0) * 1.1
    volumes = {name: [compute_hypervolume(v, reference) for v in runs] for name, runs in values.items()}
    for seed in range(args.seeds):
        print(f"seed {seed}: hypervolume tpe {volumes['tpe'][seed]:.4g}  random {volumes['random'][seed]:.4g}")
    tpe, rnd = np.mean(volumes["tpe"]), np.mean(volumes["random"])
    print(
        f"budget {args.budget}, {args.seeds} seeds, {len(cache)} distinct trials, {time.perf_counter() - start:.0f} s"
    )
    print(f"mean hypervolume: tpe {tpe:.4g}, random {rnd:.4g}; tpe / random = {tpe / rnd:.3f}")


if __name__ == "__main__":
    main()
