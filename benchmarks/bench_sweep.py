"""Per-trial bookkeeping overhead of a sweep: Ray Tune + Optuna + MLflow versus a plain in-process Optuna loop
calling the same ``fit``, in one run.

    python benchmarks/bench_sweep.py [--trials 8] [--iterations 60]

overhead per trial = (sweep wall time - sum of trial compute / concurrency) / trials, where trial compute is
the trainable's own time as Tune measures it. Both sides run warm: modules imported, Ray started and the
MLflow store created before the clock starts (a project's second sweep); the one-off cold costs (imports,
creating mlflow.db) are printed separately. Goal (issue 4): <= 0.5 s per trial on a 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from derain.keys import UNSEEN_REMOVAL


def _optuna_loop(trials: int, iterations: int) -> tuple[float, float]:
    """(wall s, sum of fit s) of a sequential in-process Optuna study over toy1d trials."""
    import optuna

    from derain.toy1d import fit1d, make_toy_config

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    compute = 0.0

    def objective(trial: optuna.Trial) -> float:
        nonlocal compute
        count = trial.suggest_int("content.count", 4, 256, log=True)
        cfg = make_toy_config(
            "smoke", {"content.count": count, "train.iterations": iterations, "train.eval_every": iterations // 2}
        )
        start = time.perf_counter()
        metrics = fit1d(cfg)
        compute += time.perf_counter() - start
        return metrics[UNSEEN_REMOVAL]

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return time.perf_counter() - start, compute


def _sweep(trials: int, iterations: int, concurrency: int, folder: Path) -> tuple[float, float]:
    """(wall s of the tuning loop, sum of fit s) of the same trials through sweeps/run.py on a warm local Ray."""
    import ray
    from ray.tune import ExperimentAnalysis

    from sweeps.run import main
    from sweeps.spaces import REGISTRY
    from sweeps.spaces.base import Space

    REGISTRY["bench"] = Space(
        "bench",
        "Bench.",
        "toy1d",
        UNSEEN_REMOVAL,
        sampled={"smoke": {"content.count": ("lograndint", 4, 256)}},
        num_samples={"smoke": trials},
    )
    ray.init(address="local", num_cpus=concurrency, include_dashboard=False, log_to_driver=False)
    from mlflow.tracking import MlflowClient

    start = time.perf_counter()
    MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").search_experiments()  # create the store: a one-off cost
    print(f"creating the MLflow store: {time.perf_counter() - start:.1f} s (once per project)")
    args = [
        "--space",
        "bench",
        "--scale",
        "smoke",
        "--storage",
        str(folder / "ray"),
        "--tracking-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--name",
        "bench",
        "--set",
        f"train.iterations={iterations}",
        "--set",
        f"train.eval_every={iterations // 2}",
    ]
    start = time.perf_counter()
    main(args)
    wall = time.perf_counter() - start
    analysis = ExperimentAnalysis(str(folder / "ray" / "bench"))
    # time_total_s is the trainable's own time (data, fit, evaluation and report calls) as Tune measures it.
    compute = sum(df["time_total_s"].max() for df in analysis.trial_dataframes.values())
    ray.shutdown()
    return wall, compute


def main() -> None:
    start = time.perf_counter()
    import optuna  # noqa: F401
    import ray.tune.search.optuna  # noqa: F401

    import sweeps.sweep
    import sweeps.tracking  # noqa: F401

    print(f"importing Ray Tune, Optuna, MLflow: {time.perf_counter() - start:.1f} s (once per process)")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--iterations", type=int, default=60)
    p.add_argument("--concurrency", type=int, default=2)
    args = p.parse_args()
    base_wall, base_compute = _optuna_loop(args.trials, args.iterations)
    with tempfile.TemporaryDirectory() as tmp:
        wall, compute = _sweep(args.trials, args.iterations, args.concurrency, Path(tmp))
    base_over = (base_wall - base_compute) / args.trials
    over = (wall - compute / args.concurrency) / args.trials
    print(f"\n{args.trials} toy1d trials x {args.iterations} iterations")
    print(f"plain Optuna loop : wall {base_wall:6.1f} s, fit {base_compute:6.1f} s, overhead {base_over:.3f} s/trial")
    print(
        f"Ray Tune + MLflow : wall {wall:6.1f} s, trial time {compute:6.1f} s on {args.concurrency} workers, "
        f"overhead {over:.3f} s/trial ({over / max(base_over, 1e-9):.0f}x the plain loop)"
    )


if __name__ == "__main__":
    main()
