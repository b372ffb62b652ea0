"""K runs of one architecture and schedule trained in one process as one vmapped model (``torch.func``).

Each member keeps everything a single run has - its config, data, background bank, seed, batch generator,
rain, evaluation sets, run folder and checkpoint - and gets the numbers that run would get alone (to float
tolerance: stacked convolutions round differently): ``train_ensemble`` of K runs equals K ``train_loop``
calls. What the members share is the step: their parameters are stacked (``stack_module_state``) and one
``vmap(functional_call)`` computes every member's forward and backward at once, which fills a GPU that one
small trial leaves idle. One Adam over the stacked parameters is K Adams (its update is elementwise); gradient
clipping is per member; a member whose loss turns non-finite is dropped and reported as failed while the
others go on.

Every member keeps a single run's loop state (``derain.engine.loop.LoopState``: module, Adam, schedule, generator);
the stack is built from those states and written back into them at every evaluation, so checkpoints are a
single run's (a member resumes as a single run, and a single run's folder resumes as a member). Architectures
``vmap`` cannot trace (attention with a learned bias: ``swinir_light`` says ``vmappable = False``) run their
members one after another in the same loop: the same numbers, no speed-up. On the CPU stacking measured slower
than separate runs (``benchmarks/bench_ensemble.py``): there the members step one after another by default, and
sweeps ensemble on GPUs only.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from derain.config.schema import TrainConfig, to_dict
from derain.engine.device import resolve_device
from derain.engine.loop import (
    LOSSES,
    LoopState,
    NonFiniteLossError,
    RunParts,
    RunWriter,
    bf16_dtype,
    close_run_dir,
    evaluate_state,
    make_scheduler,
    memory_format,
    new_state,
    open_run_dir,
)
from derain.engine.vmap_amp import CastConvolutions
from derain.errors import ConfigError
from derain.tasks import task_of

log = logging.getLogger(__name__)
MemberEval = Callable[[int, int, dict[str, float]], None]  # (member index, step, metrics)
# (step, member index -> its metrics, or the NonFiniteLossError it failed with): once per evaluation
RoundEval = Callable[[int, dict[int, "dict[str, float] | NonFiniteLossError"]], None]


def can_stack(model: nn.Module) -> bool:
    """Whether ``vmap`` can trace ``model``: no module in it says ``vmappable = False``."""
    return all(getattr(m, "vmappable", True) for m in model.modules())


@dataclass
class Member:
    """One run of the ensemble: its parts, single-run loop state and folder writer, and how it ended."""

    parts: RunParts
    state: LoopState
    writer: RunWriter
    error: NonFiniteLossError | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)  # since the last evaluation


class Stack:
    """The members' parameters on a leading axis (K, ...) with one Adam and schedule, or (``stacked=False``)
    the members' own modules and optimizers stepped one after another."""

    def __init__(self, states: Sequence[LoopState], t: TrainConfig, stacked: bool) -> None:
        self.states, self.stacked = list(states), stacked
        if not stacked:
            return
        params, self.buffers = stack_module_state([s.model for s in self.states])
        wants = {n: p.requires_grad for n, p in self.states[0].model.named_parameters()}
        self.params = {n: p.detach().requires_grad_(wants[n]) for n, p in params.items()}
        self.base = copy.deepcopy(self.states[0].model).to("meta")
        self.opt = torch.optim.Adam(list(self.params.values()), lr=t.lr)
        self.sched = make_scheduler(self.opt, t)  # before the state: a new schedule resets the learning rate
        self.opt.load_state_dict(self._stacked_optimizer())
        self.sched.load_state_dict(self.states[0].sched.state_dict())

    def _stacked_optimizer(self) -> dict:
        """The members' Adam states, each tensor stacked on a leading axis (``step`` is shared)."""
        each = [s.opt.state_dict() for s in self.states]
        state = {}
        for i, first in each[0]["state"].items():
            state[i] = {
                k: v if k == "step" else torch.stack([e["state"][i][k] for e in each]) for k, v in first.items()
            }
        return {"state": state, "param_groups": each[0]["param_groups"]}

    def forward(self, x: torch.Tensor, amp: torch.dtype | None = None) -> torch.Tensor:
        """Every member's output (K, B, ...) for its own batch of ``x`` (K, B, ...); ``amp``: the autocast dtype
        the caller steps in, which stacked convolutions get from ``CastConvolutions``."""
        if not self.stacked:
            return torch.stack([s.model(xk.contiguous(memory_format=memory_format(xk)))  # as train_loop's step
                                for s, xk in zip(self.states, x, strict=True)])  # fmt: skip

        def one(p: dict, b: dict, xk: torch.Tensor) -> torch.Tensor:
            return functional_call(self.base, (p, b), (xk,))

        with CastConvolutions(amp) if amp is not None else contextlib.nullcontext():
            return vmap(one)(self.params, self.buffers, x)

    def _grads(self, k: int) -> list[torch.Tensor]:
        if self.stacked:
            return [p.grad[k] for p in self.params.values() if p.grad is not None]
        return [p.grad for p in self.states[k].model.parameters() if p.grad is not None]

    def step(self, max_norm: float) -> None:
        """Clip each member's gradients to global norm ``max_norm`` (0: no clipping), then one optimizer step."""
        for k in range(len(self.states)) if max_norm > 0 else ():
            grads = self._grads(k)
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
            for g in grads:
                g.mul_(torch.clamp(max_norm / (norm + 1e-6), max=1.0))  # clip_grad_norm_'s rule
        for opt, sched in [(self.opt, self.sched)] if self.stacked else [(s.opt, s.sched) for s in self.states]:
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)

    def write_back(self) -> None:
        """Copy the stack into the members' own states: parameters, Adam slices, schedule."""
        if not self.stacked:
            return
        stacked = self.opt.state_dict()
        with torch.no_grad():
            for k, s in enumerate(self.states):
                for n, p in s.model.named_parameters():
                    p.copy_(self.params[n][k])
                s.opt.load_state_dict(_slice(stacked, s.opt.state_dict(), k))
                s.sched.load_state_dict(self.sched.state_dict())


def _slice(stacked: dict, mine: dict, k: int) -> dict:
    """Member ``k``'s Adam state dict cut from the stacked one, keyed as its own optimizer keys it."""
    state = {
        i: {key: v if key == "step" else v[k].clone() for key, v in st.items()} for i, st in stacked["state"].items()
    }
    groups = [
        {**g, "params": mg["params"]} for g, mg in zip(stacked["param_groups"], mine["param_groups"], strict=True)
    ]
    return {"state": state, "param_groups": groups}


def _member(parts: RunParts, seed: int, t: TrainConfig, device: torch.device, run_dir: Path | None, config: dict,
            on_eval: Callable[[int, dict[str, float]], None] | None, resume: bool) -> Member:  # fmt: skip
    """A member's single-run state, built by ``train_loop``'s own ``new_state``, its folder opened (and resumed).
    No fp16 scaler: a shared loss scale would couple the members (the ensemble runs bf16 or fp32)."""
    state = new_state(parts, t, device, seed, None)
    open_run_dir(run_dir, state, config, resume)
    return Member(parts, state, RunWriter(run_dir, config, on_eval))


def _losses(stack: Stack, alive: list[Member], t: TrainConfig, amp: torch.dtype | None) -> torch.Tensor:
    """Each member's training loss (K,) on its own batch, drawn with its own generator."""
    batches = [m.parts.sample(t.batch_size, m.state.gen) for m in alive]
    inputs, targets = (torch.stack(b) for b in zip(*batches, strict=True))
    with torch.autocast(inputs.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        out = stack.forward(inputs, amp).float()
    return torch.stack([LOSSES[t.loss](o, y) for o, y in zip(out, targets, strict=True)])


def _drop_failed(members: list[Member], values: list[float], step: int) -> bool:
    """Mark the members whose loss is not finite as failed (NonFiniteLossError at ``step``); True if any."""
    alive = [m for m in members if m.error is None]
    failed = False
    for m, v in zip(alive, values, strict=True):
        if not math.isfinite(v):
            m.error, failed = NonFiniteLossError(step, v), True
            log.warning("ensemble member %d: %s; the others go on", members.index(m), m.error)
    return failed


def _train_step(stack: Stack, members: list[Member], t: TrainConfig, amp: torch.dtype | None, step: int
                ) -> tuple[list[float], bool]:  # fmt: skip
    """One optimiser step of every running member, as its single run's ``step``; (the losses, whether a member
    failed at it)."""
    alive = [m for m in members if m.error is None]
    for s in stack.states:
        s.model.train()
    losses = _losses(stack, alive, t, amp)
    values = losses.detach().tolist()
    finite = [math.isfinite(v) for v in values]
    failed = _drop_failed(members, values, step)
    if any(finite):  # a failed member's loss stays out: the others' gradients are their single runs'
        losses[torch.tensor(finite, device=losses.device)].sum().backward()
    stack.step(t.grad_clip)
    for m, v, ok in zip(alive, values, finite, strict=True):
        if ok:
            m.losses.append(v)
            m.state.step = step
    return values, failed


def _evaluate(stack: Stack, members: list[Member], t: TrainConfig, on_round: RoundEval | None) -> None:
    """Evaluate every running member as its single run would, write its folder, call its callback; then
    ``on_round`` with every member's metrics or error."""
    stack.write_back()
    for m in members:
        if m.error is None:
            m.metrics = evaluate_state(m.parts, m.state, m.losses)
            m.losses = []
            m.writer.save(m.parts, m.state, m.metrics, last=m.state.step == t.iterations)
            m.writer.notify(m.state.step, m.metrics)
    if on_round is not None:
        on_round(max(m.state.step for m in members), {k: m.error or m.metrics for k, m in enumerate(members)})


def train_ensemble(
    runs: Sequence[RunParts],
    *,
    train: TrainConfig,
    seeds: Sequence[int],
    device: torch.device,
    run_dirs: Sequence[Path | None],
    configs: Sequence[dict],
    on_eval: MemberEval | None = None,
    on_round: RoundEval | None = None,
    resume: bool = False,
    stacked: bool | None = None,
) -> list[dict[str, float] | NonFiniteLossError]:
    """Train ``runs`` (one architecture, one ``train`` schedule) as one ensemble; per member, its last metrics or
    the ``NonFiniteLossError`` it failed with. ``stacked``: vmap the members (default: on CUDA, when the
    architecture allows; on a CPU the vmapped step measured 0.70x the members' own steps at K = 16 in fp32 and
    0.34x in bf16, 0.73-0.81x at K <= 4, ``benchmarks/bench_ensemble.py``); ``on_eval(member, step, metrics)``
    after each member's evaluation, its folder written; ``on_round`` after each evaluation of them all."""
    notify = (lambda k: lambda step, m: on_eval(k, step, m)) if on_eval else (lambda k: None)
    each = zip(runs, seeds, run_dirs, configs, strict=True)
    members = [_member(*run[:2], train, device, *run[2:], notify(k), resume) for k, run in enumerate(each)]
    steps = {m.state.step for m in members}
    if len(steps) > 1:
        raise ValueError(f"the members' checkpoints are at different steps {sorted(steps)}: resume them one by one")
    amp = bf16_dtype(device, train.amp)  # one Adam over the stack: no loss scaler
    if stacked is None:
        stacked = device.type == "cuda" and can_stack(members[0].state.model)
    stack, step, tick = Stack([m.state for m in members], train, stacked), steps.pop(), time.perf_counter()
    while step < train.iterations:
        step += 1
        values, failed = _train_step(stack, members, train, amp, step)
        finite = [math.isfinite(v) for v in values]
        if failed:  # rebuilt from the survivors' states, written back after this step
            stack.write_back()
            stack = Stack([m.state for m in members if m.error is None], train, stacked)
            if not stack.states:
                break
        if step % train.log_every == 0:
            ms = 1000 * (time.perf_counter() - tick) / train.log_every
            log.info("ensemble of %d: step %d/%d  mean loss %.4f  %.1f ms/it", sum(finite), step, train.iterations,
                     sum(v for v in values if math.isfinite(v)) / max(1, sum(finite)), ms)  # fmt: skip
            tick = time.perf_counter()
        if step % train.eval_every == 0 or step == train.iterations:
            _evaluate(stack, members, train, on_round)
    for m in members:
        if m.error is None:
            close_run_dir(m.writer.run_dir, m.metrics)
    return [m.error or m.metrics for m in members]


def ensemble_key(cfg: Any) -> tuple:
    """What members of one ensemble must share: the config type, the model (the prior's, when it has one), the
    training schedule and the input size. Everything else (data, rain, seed, N, ...) is the member's own."""
    return (type(cfg).__name__, cfg.model, cfg.train, *task_of(cfg).shape(cfg))


def fit_ensemble(
    cfgs: Sequence[Any],
    *,
    device: str | torch.device = "cpu",
    run_dirs: Sequence[Path | None] | None = None,
    on_eval: MemberEval | None = None,
    on_round: RoundEval | None = None,
    resume: bool = False,
    banks: Callable[[Any], Any] | None = None,
    stacked: bool | None = None,
) -> list[dict[str, float] | NonFiniteLossError]:
    """``fit`` / ``fit1d`` for several runnable configs of one ``ensemble_key`` at once (see the module).

    ``banks(cfg)``: a 2D member's (candidate, held-out) patch banks, when the caller shares them (sweeps).
    Returns per member its last metrics, or the ``NonFiniteLossError`` it failed with.
    """
    keys = {ensemble_key(c) for c in cfgs}
    if len(keys) != 1:
        raise ConfigError("ensemble members must share the model, the train section and the input size")
    device = resolve_device(device)
    kind = task_of(cfgs[0])
    runs = [kind.build(c, device, banks(c)) if banks and kind.banks else kind.build(c, device) for c in cfgs]
    return train_ensemble(
        runs,
        train=cfgs[0].train,
        seeds=[c.seed for c in cfgs],
        device=device,
        run_dirs=list(run_dirs) if run_dirs is not None else [None] * len(cfgs),
        configs=[to_dict(c) for c in cfgs],
        on_eval=on_eval,
        on_round=on_round,
        resume=resume,
        stacked=stacked,
    )
