"""``--dry-run``: what a sweep command would launch, without starting Ray, MLflow or Optuna storage.

It prints the trials (the grid points, or "n sampled from" the ranges), the resources per trial and how many
run at once on this machine, an estimate of the wall time from the measured trial costs of the scale
(``sweeps.costs``), in the precision this machine's CPU steps in, and where the results would go.
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch

from derain.config.presets import SMALL_SCALES
from derain.engine.loop import precision
from derain.tasks import task_of
from sweeps import search
from sweeps.costs import BF16, TrialCost, trial_cost
from sweeps.members import MEMBERS
from sweeps.names import values_name
from sweeps.plan import SweepPlan, ensembles
from sweeps.priors import distinct_priors
from sweeps.spaces.base import grid_points

SWEEP_START_S = 12.0  # Ray, the tracking store, the first worker (measured 10-12 s on the 2-core machine)


SHOWN_POINTS = 40  # a longer grid prints its first points and a count


def _axes_lines(plan: SweepPlan, trials: int) -> list[str]:
    grid, sampled = dict(plan.axes.grid), dict(plan.axes.sampled)
    if sampled:
        lines = [f"  sampled {k} from {spec[0]}{tuple(spec[1:])}" for k, spec in sampled.items()]
        lines += [f"  with   {k} in {', '.join(map(str, v))}" for k, v in grid.items()]
        return [f"trials: {trials} sampled by Optuna from", *lines]
    points = grid_points(grid)
    repeats = trials // max(1, len(points))
    shown = [f"  {values_name(p)}" for p in points[:SHOWN_POINTS]]
    more = [f"  ... and {len(points) - SHOWN_POINTS} more"] if len(points) > SHOWN_POINTS else []
    times = f", each with {repeats} seeds" if repeats > 1 else ""
    return [f"trials: {trials}, the grid's {len(points)} points{times}:", *shown, *more]


def _cost(task: str, scale: str, amp: bool) -> tuple[TrialCost, str]:
    """A trial's cost row and its precision: the small scales' steps in the precision of this machine's CPU
    (bf16 with AMX), the GPU scales' as estimated for an H200 (bf16)."""
    steps = precision(torch.device("cpu"), amp) if scale in SMALL_SCALES else BF16
    return trial_cost(task, scale, steps)


def _seconds(plan: SweepPlan) -> tuple[float, bool, str]:
    """Mean seconds per trial over the plan's corner configs, whether the costs were measured, and the steps'
    precision they were measured in."""
    per, measured, steps = [], True, set()
    for c in plan.configs:  # a claims protocol mixes 2D and 1D trials
        cost, p = _cost(task_of(c).name, plan.scale, c.train.amp)
        per.append(cost.trial_seconds(c.train.iterations, math.ceil(c.train.iterations / c.train.eval_every)))
        measured, steps = measured and cost.measured, steps | {p}
    return sum(per) / max(1, len(per)), measured, "/".join(sorted(steps))


def _slots(plan: SweepPlan, address: str | None) -> tuple[int, str]:
    s = plan.settings
    if s.max_concurrent:
        return s.max_concurrent, f"--max-concurrent {s.max_concurrent}"
    if address:
        return 1, "at least 1 (the cluster's size is read when the sweep connects)"
    slots = max(1, int((os.cpu_count() or 1) // s.cpus_per_trial))
    return slots, f"{slots} on this machine ({os.cpu_count()} CPUs, {s.cpus_per_trial:g} per trial)"


def describe(plan: SweepPlan, address: str | None) -> str:
    """The dry run's report, several lines of plain text."""
    s = plan.settings
    samples = plan.space.samples(plan.scale)
    p = search.tune_setup(
        plan.space, plan.axes, samples, s.seed, s.num_samples, plan.max_reports, ensembles=ensembles(plan)
    )
    groups = p.param_space[MEMBERS].get("grid_search", []) if MEMBERS in p.param_space else []
    runs = sum(len(g) for g in groups) or p.trials
    per_trial, measured, steps = _seconds(plan)
    slots, slots_text = _slots(plan, address)
    priors = distinct_priors(list(plan.configs))
    prior_steps = [(c.prior.pretrain_iterations, _cost(task_of(c).name, plan.scale, c.train.amp)[0]) for c in priors]
    prior_s = sum(n * cost.prior_step_s for n, cost in prior_steps)
    # an ensemble is costed as its members run one by one: its speed-up is the device's, measured, not assumed
    longest = max((len(g) for g in groups), default=1)
    trials_s = math.ceil(p.trials / slots) * per_trial * longest
    beside = priors and not all(getattr(c, "prior", None) and c.prior.kind != "none" for c in plan.configs)
    # beside the trials a prior takes one slot's time (sweeps.priors); before them, the sweep waits for it
    wall = SWEEP_START_S + (max(prior_s, (prior_s + trials_s * slots) / slots) if beside else prior_s + trials_s)
    kind = "measured" if measured else "estimated, not measured"
    gpus = "auto (a share of a GPU where the cluster has them)" if s.gpus_per_trial is None else f"{s.gpus_per_trial:g}"
    lines: list[Any] = [
        f"dry run of sweep '{plan.name}': space {plan.space.name} ({plan.space.task}), scale {plan.scale}",
        *_axes_lines(plan, runs),
        *(
            [f"ensembles: {p.trials} Tune trials of up to {longest} members each (--ensemble 1: one per point)"]
            if groups
            else []
        ),
        f"resources: {s.cpus_per_trial:g} CPU and {gpus} GPU per trial; at once: {slots_text}",
        f"time: about {per_trial / 60:.1f} min per trial ({kind} at scale {plan.scale}, {steps} steps)"
        + (f", {len(priors)} content prior(s) to pre-train ({prior_s / 60:.1f} min)" if priors else "")
        + f"; the sweep about {wall / 60:.0f} min",
        f"Ray experiment: {plan.experiment}",
        f"MLflow: {plan.tracking_uri} (experiment '{plan.space.name}')",
    ]
    if plan.study:
        lines.append(f"Optuna study: {plan.study.storage}")
    lines.append("nothing was started (drop --dry-run to run it)")
    return "\n".join(lines)
