"""The two tasks this project trains, and the one place that tells them apart.

``derain``: 2D images (rain, or noise with ``degradation=noise``), ``derain.config.schema.Config``, background banks.
``toy1d``: the 1D function-denoising analogue (DESIGN §6), ``derain.toy1d.Toy1dConfig``, no banks.

Everything that differs between them - the blank config that types ``--set`` values, how a config is built at
a scale (checked, or as a view), how one trains, which key seeds its data, whether its trials share
background banks and stay small at every scale, its default scale - is a field of its ``TaskKind``. Callers
look a task up by name (``TASKS[name]``, what a space or a trial's params say) or by config (``task_of``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from derain.config.presets import make_config, preset_config
from derain.config.schema import Config
from derain.engine.device import default_scale
from derain.image_task import build_task, fit
from derain.toy1d.config import Toy1dConfig
from derain.toy1d.fit import build_task_1d, fit1d
from derain.toy1d.scales import make_toy_config, preset_toy_config


def _shape2d(cfg: Config) -> tuple:
    prior = dataclasses.replace(cfg.prior, store="") if cfg.prior.kind != "none" else None
    return (prior, cfg.data.patch_size, cfg.data.channels)  # the prior's model is part of the model


@dataclass(frozen=True)
class TaskKind:
    """One task: its config type and what to do with one.

    ``make(scale, overrides)``: a runnable config (ranges checked, one-line ``ConfigError`` otherwise);
    ``preset``: the same without the checks (views such as MLflow params); ``fit(cfg, **run)``: train one run
    (``derain.engine.loop.RunOptions``; with ``banks``, also ``banks=``); ``build(cfg, device[, banks])``:
    its ``loop.RunParts``; ``shape(cfg)``: what ensemble members must share besides model and training (input size,
    prior); ``seed_key``: the override that seeds its data; ``banks``: trials use background banks (shared
    per node in sweeps); ``priors``: it may use a content prior (kept in a prior store); ``small``: a trial
    needs a fraction of a CPU at every scale; ``cli``: the module of its single-run CLI (``python -m <cli>``);
    ``default_scale()``: the preset a machine gets when none is named.
    """

    name: str
    config_type: type
    make: Callable[[str, dict[str, Any]], Any]
    preset: Callable[[str, dict[str, Any]], Any]
    fit: Callable[..., dict[str, float]]
    build: Callable[..., Any]
    shape: Callable[[Any], tuple]
    seed_key: str
    banks: bool
    priors: bool
    small: bool
    cli: str
    default_scale: Callable[[], str] = default_scale

    def blank(self) -> Any:
        """The task's default config: what ``--set`` values are typed against."""
        return self.config_type()


TASKS: dict[str, TaskKind] = {
    "derain": TaskKind(
        "derain", Config, make_config, preset_config, fit, build_task, _shape2d, "data.seed",
        banks=True, priors=True, small=False, cli="derain.train",
    ),
    "toy1d": TaskKind(
        "toy1d", Toy1dConfig, make_toy_config, preset_toy_config, fit1d, build_task_1d, lambda c: (c.content.length,),
        "content.seed", banks=False, priors=False, small=True, cli="derain.toy1d",
    ),
}  # fmt: skip


def task_of(cfg: Any) -> TaskKind:
    """The task whose config ``cfg`` is (a ``Config`` or a ``Toy1dConfig``); TypeError for anything else."""
    for task in TASKS.values():
        if isinstance(cfg, task.config_type):
            return task
    raise TypeError(f"not a task config: {type(cfg).__name__} (known: {', '.join(TASKS)})")
