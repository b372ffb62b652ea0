"""Load a sweep into tidy pandas frames, from MLflow (parent + child runs) or from a Ray experiment directory.

``trials`` has one row per trial. Columns:
- ``trial_id``, ``status`` (finished | stopped | failed | lost | running; 'stopped': the scheduler ended it
  before its last step, so it is no finished trial; 'lost': a killed driver started it and the resumed sweep
  never ran it), ``run_id`` (MLflow only, else empty), ``node``;
- every config key of the trial, dotted (``data.num_backgrounds``, ``rain.train``, ``seed`` …), typed back
  to numbers where they are numbers;
- every reported metric under its own key (``eval/unseen/removal``, ``train/loss`` …): the final value;
- ``best/<metric>`` for the summary metrics: the best value over the trial's evaluations;
- ``replicate``: 0, 1, ... over the seeds of trials whose config is otherwise the same (independent draws of
  the training backgrounds or functions, the same exam);
- ``plateau``: whether the trial's yardstick gain had flattened by its last evaluation (``plateaus``).

``curves`` is long-format: ``trial_id``, ``metric``, ``step``, ``value`` for the per-evaluation history of
``CURVE_METRICS``.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient
from ray.tune import ExperimentAnalysis

from derain.engine.loop import METRICS
from derain.keys import LOGGED_PREFIXES, SUMMARY, TRAIN_STEP, YARDSTICK_E_B, YARDSTICK_GAIN, direction
from sweeps.members import member_histories
from sweeps.plan import Settings, flat_params, trial_spec
from sweeps.results import (
    PARENT_TAG,
    SCALE_TAG,
    SETTINGS,
    SPACE_TAG,
    STOPPED_TAG,
    STUDY_TAG,
    SWEEP_TAG,
    TRIAL_TAG,
    node_tag,
    parent_run,
    tag_equals,
)

CURVE_METRICS = (*SUMMARY, YARDSTICK_GAIN, YARDSTICK_E_B)
BEST = {k: direction(k) for k in SUMMARY if k.startswith("eval/")}  # best/<metric> columns: best over evaluations


def _typed(value: str) -> object:
    """MLflow stores params as strings: turn '64' -> 64, '0.5' -> 0.5, '(1, 3)' -> (1, 3); else keep text."""
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def _best(curves: pd.DataFrame, trial_id: str) -> dict[str, float]:
    out = {}
    mine = curves[curves["trial_id"] == trial_id]
    for metric, mode in BEST.items():
        values = mine.loc[mine["metric"] == metric, "value"]
        if len(values):
            out[f"best/{metric}"] = values.max() if mode == "max" else values.min()
    return out


BOOKKEEPING = ("trial_id", "run_id", "node", "status", "replicate", "plateau")
PLATEAU = 0.1  # at a plateau: the late trend moves the metric by <= 10 % of its range (or less than its noise)
PLATEAU_METRIC = YARDSTICK_GAIN  # the curve the plateau flag reads (the claims' and the figures' y)


def at_plateau(steps: np.ndarray, values: np.ndarray) -> bool:
    """Whether a curve (steps, values: (n,) float, in step order) has flattened: the least-squares line through
    its last half (at least 3 evaluations) rises or falls over that window by at most ``PLATEAU`` of the curve's
    whole range, or (from four evaluations on) by less than twice its standard error (a move the evaluation
    noise explains). One last
    step would read that noise as a trend. Fewer than four evaluations cannot tell: True."""
    if len(values) < 4:
        return True
    k = max(3, len(values) // 2)
    t, v = steps[-k:] - steps[-k:].mean(), values[-k:]
    slope = float(t @ (v - v.mean()) / (t @ t))
    span = float(steps[-1] - steps[-k])
    resid = v - v.mean() - slope * t
    flat = abs(slope * span) <= PLATEAU * float(np.ptp(values))
    if k < 4:  # one degree of freedom: its noise estimate would excuse any trend
        return flat
    return flat or abs(slope) < 2 * math.sqrt(float(resid @ resid) / (k - 2) / float(t @ t))


def plateaus(curves: pd.DataFrame, metric: str = PLATEAU_METRIC) -> dict[str, bool]:
    """trial_id -> ``at_plateau`` of its curve of ``metric`` (non-finite values left out)."""
    out = {}
    for trial, rows in curves[curves["metric"] == metric].groupby("trial_id"):
        rows = rows.sort_values("step")
        keep = np.isfinite(rows["value"].to_numpy(float))
        out[trial] = at_plateau(rows["step"].to_numpy(float)[keep], rows["value"].to_numpy(float)[keep])
    return out


def add_plateaus(trials: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """``trials`` with a ``plateau`` column (bool): whether its yardstick-gain curve had flattened by its last
    evaluation (a trial without a curve reads True: nothing to tell)."""
    flat = plateaus(curves) if len(curves) else {}
    ids = trials["trial_id"] if "trial_id" in trials else pd.Series(dtype=object)
    return trials.assign(plateau=ids.map(lambda t: flat.get(t, True)).astype(bool))


def add_replicates(trials: pd.DataFrame) -> pd.DataFrame:
    """``trials`` with a ``replicate`` column: the rank (from 0) of each trial's seed among the trials whose
    config is otherwise identical."""
    if "seed" not in trials or trials.empty:
        return trials.assign(replicate=0)
    keys = [
        c for c in trials.columns if c not in (*BOOKKEEPING, "seed") and not c.startswith((*LOGGED_PREFIXES, "best/"))
    ]
    point = trials[keys].map(str).agg("|".join, axis=1) if keys else pd.Series("", index=trials.index)
    replicate = trials.groupby(point)["seed"].rank(method="dense").astype(int) - 1
    return trials.assign(replicate=replicate)


def _mlflow_status(run: Any) -> str:
    if run.data.tags.get(STOPPED_TAG) == "true":
        return "stopped"
    return {"FINISHED": "finished", "FAILED": "failed", "KILLED": "lost"}.get(run.info.status, "running")


def sweep_parent(client: MlflowClient, experiment: str, sweep: str | None = None):
    """The sweep's parent run: by name, else the newest sweep of the experiment; a ValueError naming what is
    missing otherwise."""
    if client.get_experiment_by_name(experiment) is None:
        raise ValueError(f"no MLflow experiment '{experiment}'")
    run = parent_run(client, experiment, sweep)
    if run is None:
        raise ValueError(f"no sweep {sweep or ''} in MLflow experiment '{experiment}'".replace("  ", " "))
    return run


def load_mlflow(experiment: str, tracking_uri: str, sweep: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, curves) of a sweep tracked in MLflow (the newest sweep of ``experiment`` unless ``sweep``)."""
    client = MlflowClient(tracking_uri)
    parent = sweep_parent(client, experiment, sweep)
    children = client.search_runs([parent.info.experiment_id], tag_equals(PARENT_TAG, parent.info.run_id))
    rows, curves = [], []
    for run in children:
        trial_id = run.data.tags.get(TRIAL_TAG, run.info.run_id)
        for metric in CURVE_METRICS:
            curves += [(trial_id, metric, m.step, m.value) for m in client.get_metric_history(run.info.run_id, metric)]
        rows.append(
            {
                "trial_id": trial_id,
                "run_id": run.info.run_id,
                "node": run.data.tags.get(node_tag("hostname"), ""),
                "status": _mlflow_status(run),
                "result_note": "",  # MLflow holds every step a trial logged; only Ray's files can lose one
                **{k: _typed(v) for k, v in run.data.params.items()},
                **run.data.metrics,
            }
        )
    curve_frame = pd.DataFrame(curves, columns=["trial_id", "metric", "step", "value"])
    trials = add_replicates(pd.DataFrame([{**r, **_best(curve_frame, r["trial_id"])} for r in rows]))
    trials = add_plateaus(trials, curve_frame)
    trials.attrs.update(
        {
            "sweep": parent.data.tags.get(SWEEP_TAG),
            "parent_run_id": parent.info.run_id,
            "scale": parent.data.tags.get(SCALE_TAG),
            "space": parent.data.tags.get(SPACE_TAG),
            "study_storage": parent.data.tags.get(STUDY_TAG, ""),
        }
    )
    return trials, curve_frame


def _config_reader(path: Path):
    """Trial params -> the trial's full flat config, exactly as the sweep logged it to MLflow (rebuilt from the
    sweep's stored settings; the values pass through text as MLflow params do). A Ray folder not started by
    sweeps/run.py has no settings: then only the sampled params, with ``point`` unpacked."""
    file = path / SETTINGS
    if not file.exists():
        return lambda config: {**dict(config.get("point") or {}), **{k: v for k, v in config.items() if k != "point"}}
    spec = trial_spec(Settings.from_json(file.read_text()), str(path.resolve().parent))
    return lambda config: {k: _typed(str(v)) for k, v in flat_params(spec, config).items()}


def _mark_stopped(trials: pd.DataFrame) -> pd.DataFrame:
    """Finished trials whose last step is short of their task's longest trial were stopped by the scheduler."""
    if TRAIN_STEP not in trials or trials.empty:
        return trials
    task = trials["task"].fillna("") if "task" in trials else pd.Series("", index=trials.index)
    longest = trials.groupby(task)[TRAIN_STEP].transform("max")
    stopped = (trials["status"] == "finished") & (trials[TRAIN_STEP] < longest)
    return trials.assign(status=trials["status"].where(~stopped, "stopped"))


def _from_checkpoint(trial, status: str, sub: str = "") -> tuple[dict, str, str]:
    """(last metrics, status, note) of a trial (or member: its folder ``sub``) whose result file is empty: from
    its newest checkpoint's metrics.json (status kept, noted as recovered), else nothing ("result lost")."""
    checkpoint = getattr(trial, "checkpoint", None)
    metrics_file = Path(checkpoint.path) / sub / METRICS if checkpoint is not None else None
    if metrics_file is not None and metrics_file.is_file():
        try:
            return json.loads(metrics_file.read_text()), status, "recovered from its checkpoint"
        except ValueError:
            pass
    return {}, "result lost", "result file empty and no checkpoint metrics"


def _curves(trial_id: str, frame: pd.DataFrame) -> list[tuple]:
    """(trial_id, metric, step, value) of every curve metric in a trial's result history."""
    if TRAIN_STEP not in frame:
        return []
    steps = frame[TRAIN_STEP]
    return [(trial_id, m, s, v) for m in CURVE_METRICS if m in frame for s, v in zip(steps, frame[m], strict=True)]


def _ray_row(trial: Any, trial_id: str, config: dict, frame: pd.DataFrame, config_of: Callable) -> dict:
    """One run's row: its last result, status (a member that diverged failed) and full config."""
    last = frame.iloc[-1].to_dict() if len(frame) else {}
    status = {"TERMINATED": "finished", "ERROR": "failed"}.get(trial.status, "running")
    if "diverged_step" in frame and frame["diverged_step"].notna().any():
        status = "failed"
    note = ""
    if not len(frame):  # an empty or truncated result.json (a kill during Ray's write): never drop the trial
        sub = trial_id.rsplit(".", 1)[1] if trial_id != trial.trial_id else ""  # a member's folder, m<k>
        last, status, note = _from_checkpoint(trial, status, sub)
    metrics = {k: v for k, v in last.items() if k.startswith(LOGGED_PREFIXES)}
    node = last.get("hostname", "")
    return {"trial_id": trial_id, "run_id": "", "node": node, "status": status, "result_note": note,
            **config_of(config), **metrics}  # fmt: skip


def load_ray(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, curves) from a Ray Tune experiment directory (no MLflow needed): the same columns as
    ``load_mlflow`` (every trial's full config, rebuilt from the sweep's stored settings), without run ids."""
    path = Path(path)
    analysis, config_of = ExperimentAnalysis(str(path)), _config_reader(path)
    rows, curves = [], []
    for trial in analysis.trials:
        history = analysis.trial_dataframes.get(trial.trial_id, pd.DataFrame())
        # an ensemble trial is a row per member (sweeps.members), as MLflow has a child run per member
        for run_id, config, frame in member_histories(trial.trial_id, trial.config, history):
            curves += _curves(run_id, frame)
            rows.append(_ray_row(trial, run_id, config, frame, config_of))
    curve_frame = pd.DataFrame(curves, columns=["trial_id", "metric", "step", "value"])
    trials = add_replicates(pd.DataFrame([{**r, **_best(curve_frame, r["trial_id"])} for r in rows]))
    trials = add_plateaus(trials, curve_frame)
    trials = _mark_stopped(trials)
    settings = Settings.from_json((path / SETTINGS).read_text()) if (path / SETTINGS).exists() else None
    trials.attrs.update(
        {
            "sweep": path.name,
            "parent_run_id": "",
            "scale": settings.scale if settings else None,
            "space": settings.space if settings else None,
            "study_storage": (settings.optuna_storage or "") if settings else "",
        }
    )
    return trials, curve_frame
