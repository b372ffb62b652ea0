"""The sweep plan: everything about one sweep, validated and built once on the driver before any trial.

``Settings`` are the launch settings (what ``derain_sweep.json`` stores and ``--resume`` reloads).
``build_plan`` turns them, the scale and the destination into a frozen ``SweepPlan``: the space and its axes
at the scale, the overrides every trial gets, every corner trial config (validated: a bad ``--set`` fails
here, naming the key), the objectives, the experiment path and the name. ``TrialSpec`` is the small part of
the plan that travels to the workers; ``trial_config`` builds a trial's config from it and the trial's params.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from derain.cli.common import parse_overrides
from derain.config.schema import Config, flatten
from derain.engine.ensemble import ensemble_key
from derain.errors import DerainError, redact
from derain.keys import INF_DB, info
from derain.tasks import TASKS
from derain.toy1d.config import Toy1dConfig
from sweeps.members import group
from sweeps.results import experiment_path, is_uri
from sweeps.search import Study
from sweeps.spaces import get_space
from sweeps.spaces.base import Axes, Space, grid_points


@dataclass(frozen=True)
class Settings:
    """A sweep's launch settings: stored beside Tune's state so that ``--resume`` rebuilds the same trials."""

    space: str
    scale: str | None = None  # None: chosen from the cluster (gpu when it has GPUs, else cpu)
    overrides: tuple[str, ...] = ()  # --set KEY=VALUE, as typed
    seed: int = 0
    num_samples: int | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float | None = None  # None: automatic (a GPU share where the cluster has GPUs)
    max_concurrent: int | None = None
    ensemble: int | None = None  # members per ensemble trial of a grid; None: by scale (``ensemble_size``)
    optuna_storage: str | None = None  # RDB URL of the Optuna study; None: optuna.db beside the Ray state
    tracking_uri: str | None = None  # the MLflow store the sweep writes to (a resume from elsewhere reuses it)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)}
        return cls(**{**values, "overrides": tuple(values["overrides"] or ())})

    def to_json(self) -> str:
        return json.dumps({**dataclasses.asdict(self), "overrides": list(self.overrides)}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Settings:
        values = json.loads(text)  # settings saved before a field existed get its default
        return cls(**{**values, "overrides": tuple(values["overrides"] or ())})


@dataclass(frozen=True)
class TrialSpec:
    """Everything a trial needs besides its sampled params; small, sent with the trainable."""

    task: str  # derain | toy1d
    scale: str
    base: dict[str, Any]  # overrides for every trial: space fixed + --set + seeds
    objectives: dict[str, str] = field(default_factory=dict)  # metric -> min|max, sanitised for the searcher
    bank_store: Any = None  # BankStore actor handle (2D only), set once Ray runs
    priors: Any = None  # prior key -> ObjectRef of its pre-training task (sweeps.priors), set once Ray runs


def resolve(spec: TrialSpec, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(task, flat overrides) of a trial: an explicit ``point`` dict is unpacked and may name its task."""
    params = dict(params)
    point = dict(params.pop("point", None) or {})
    task = point.pop("task", spec.task)
    return task, {**point, **params}


def trial_config(spec: TrialSpec, params: dict[str, Any], check: bool = True) -> Config | Toy1dConfig:
    """A trial's config: scale preset, then the sweep's base overrides, then the params; runnable (ranges
    checked) unless ``check`` is False (views such as MLflow params)."""
    task, overrides = resolve(spec, params)
    base = spec.base if task == spec.task else {k: v for k, v in spec.base.items() if k == "seed"}
    merged = {**base, **overrides}
    kind = TASKS[task]
    return kind.make(spec.scale, merged) if check else kind.preset(spec.scale, merged)


def flat_params(spec: TrialSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Flattened full config of a trial, as MLflow params (with its task)."""
    return {"task": resolve(spec, params)[0], **flatten(trial_config(spec, params, check=False))}


def sanitize(metrics: dict[str, float], objectives: dict[str, str]) -> dict[str, float]:
    """Finite numbers only: +inf of a higher-is-better metric (PSNR or gain of a perfect output) -> INF_DB;
    NaN objectives -> worst value; other NaN dropped. A NaN objective would leave the Optuna trial RUNNING."""
    clean = {}
    for key, value in metrics.items():
        if math.isfinite(value):
            clean[key] = value
        elif value > 0 and info(key).direction == "max":
            clean[key] = INF_DB
        elif key in objectives:
            clean[key] = 1e9 if objectives[key] == "min" else -1e9
    for key, mode in objectives.items():
        clean.setdefault(key, 1e9 if mode == "min" else -1e9)
    return clean


@dataclass(frozen=True)
class SweepPlan:
    """One sweep after validation; built once, read by everything that runs, tracks and summarises it."""

    settings: Settings
    space: Space
    scale: str
    axes: Axes
    spec: TrialSpec
    configs: tuple[Any, ...]  # one validated config per grid point x corner of the sampled axes
    name: str
    storage: str
    tracking_uri: str
    max_reports: int  # evaluations per trial (ASHA's horizon)
    final_step: int  # a trial's last iteration: one whose last report is earlier was stopped early
    study: Study | None  # the persisted Optuna study of a sampled space; None for grids
    command: str = ""  # the command line that launched the sweep (the parent run's description quotes it)

    @property
    def dashboard_command(self) -> str | None:
        """The command that opens the sweep's Optuna study in optuna-dashboard (sampled spaces only)."""
        return f"optuna-dashboard {redact(self.study.storage)}" if self.study else None

    @property
    def experiment(self) -> str:
        return experiment_path(self.storage, self.name)


def base_overrides(space: Space, axes: Axes, settings: Settings, storage: str | None = None) -> dict[str, Any]:
    """Overrides every trial gets: seeds, the prior store under ``storage``, the space's fixed values at the
    scale, then the user's ``--set`` (which may not name a swept key)."""
    kind = TASKS[space.task]
    seeds = {"seed": settings.seed, kind.seed_key: settings.seed}
    if kind.priors and storage and not is_uri(storage):
        seeds["prior.store"] = f"{storage.rstrip('/')}/priors"  # every node sees the sweep's storage
    user = parse_overrides(settings.overrides, kind.blank())
    clash = sorted(set(user) & set(axes.keys))
    if clash:
        raise DerainError(f"--set {clash[0]} conflicts with the '{space.name}' space, which sweeps that key")
    return {**seeds, **space.fixed.get(settings.scale or "", {}), **user}


def corner_configs(axes: Axes, spec: TrialSpec) -> tuple[Any, ...]:
    """A validated config for every grid point combined with every choice and range end of the sampled axes."""
    corners = {key: list(args[0]) if kind == "choice" else list(args) for key, (kind, *args) in axes.sampled.items()}
    points = grid_points(axes.grid) or [{}]
    return tuple(trial_config(spec, {**c, **p}) for p in points for c in grid_points(corners) or [{}])


AUTO_ENSEMBLE = {"gpu": 16}  # by scale; 1 elsewhere: on the CPU stacking measured slower (bench_ensemble.py)


def ensemble_size(settings: Settings, space: Space) -> int:
    """Members per ensemble trial: ``--ensemble``, else by scale; 1 for a sampled space (Optuna asks for one
    configuration at a time). DerainError when ``--ensemble`` > 1 is given to a sampled space."""
    sampled = bool(space.axes(settings.scale).sampled)
    if sampled and (settings.ensemble or 1) > 1:
        raise DerainError(f"--ensemble applies to grid spaces; '{space.name}' is searched by Optuna, one trial each")
    return 1 if sampled else settings.ensemble or AUTO_ENSEMBLE.get(settings.scale or "", 1)


def ensembles(plan: SweepPlan) -> Any:
    """The grouping ``search.tune_setup`` applies to a grid's points (``sweeps.members.group`` by the members'
    ``derain.engine.ensemble.ensemble_key``), or None when every point is a trial of its own."""
    size = ensemble_size(plan.settings, plan.space)
    if size <= 1:
        return None
    return functools.partial(group, key=functools.partial(_member_key, plan.spec), size=size)


def _member_key(spec: TrialSpec, params: dict[str, Any]) -> tuple:
    return ensemble_key(trial_config(spec, params, check=False))


def build_plan(settings: Settings, name: str, storage: str, tracking_uri: str) -> SweepPlan:
    """Validate every trial the sweep can run and freeze the plan; DerainError naming the first bad value.

    ``settings.scale`` must be set (the caller picks it from the cluster when the user did not).
    """
    space = get_space(settings.space)
    axes = space.axes(settings.scale)
    ensemble_size(settings, space)  # a bad --ensemble fails here, before anything starts
    spec = trial_spec(settings, storage)
    configs = corner_configs(axes, spec)
    t = trial_config(spec, {}, check=False).train
    reports = math.ceil(t.iterations / t.eval_every)
    study = Study(settings.optuna_storage or default_study_storage(storage, name), name) if axes.sampled else None
    settings = dataclasses.replace(settings, optuna_storage=study.storage if study else settings.optuna_storage)
    return SweepPlan(
        settings, space, settings.scale, axes, spec, configs, name, storage, tracking_uri, reports, t.iterations, study
    )


def trial_spec(settings: Settings, storage: str) -> TrialSpec:
    """The part of the plan every trial's config is built from; also what ``analysis.load`` rebuilds a Ray
    sweep's full configs with (from its stored ``Settings``)."""
    space = get_space(settings.space)
    base = base_overrides(space, space.axes(settings.scale), settings, storage)
    return TrialSpec(space.task, settings.scale, base, space.objectives)


def default_study_storage(storage: str, name: str) -> str:
    """``sqlite:///<storage>/<name>/optuna.db`` beside the Ray state, where ``--resume`` finds it; with a URI
    storage (s3://), ``optuna.db`` in the driver's working directory."""
    folder = Path(experiment_path(storage, name)) if not is_uri(storage) else Path.cwd()
    return f"sqlite:///{(folder / 'optuna.db').resolve()}"
