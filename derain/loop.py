"""The iteration-based training loop shared by the 2D restorers and the 1D toy task.

``run_loop`` trains ``task.model`` on batches from ``task.sample``, evaluates with ``task.evaluate`` every
``train.eval_every`` iterations (and at the last), writes a checkpoint before calling ``on_eval(step,
metrics)``, and can resume from that checkpoint with bit-identical results on the CPU: the checkpoint holds
model, optimiser, scheduler, step and the batch generator's state, and loads with ``weights_only=True``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from derain.config import TrainConfig

log = logging.getLogger(__name__)

OnEval = Callable[[int, dict[str, float]], None]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; ``step`` is the 1-based iteration where it happened."""

    def __init__(self, step: int, value: float):
        super().__init__(f"non-finite training loss {value} at step {step}")
        self.step = step


def _charbonnier(out: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    return torch.sqrt((out - target) ** 2 + eps**2).mean()


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": F.l1_loss,
    "l2": F.mse_loss,
    "charbonnier": _charbonnier,
}


@dataclass
class Task:
    """What the loop trains: a model, a batch source and an evaluation.

    ``sample(batch_size, generator) -> (inputs, targets)`` on the model's device; ``evaluate(model) ->``
    metric dict (keys ``eval/...``).
    """

    model: nn.Module
    sample: Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
    evaluate: Callable[[nn.Module], dict[str, float]]


def make_scheduler(opt: torch.optim.Optimizer, t: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """multistep (lr *= gamma at each milestone fraction), cosine (to 0) or constant, per iteration."""
    steps = [round(m * t.iterations) for m in t.milestones]

    def factor(i: int) -> float:
        if t.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(i, t.iterations) / t.iterations))
        if t.schedule == "multistep":
            return t.gamma ** sum(i >= s for s in steps)
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def amp_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    """bf16 (fp16 where bf16 is unsupported) on CUDA when enabled; None (full precision) otherwise."""
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@dataclass
class _State:
    model: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    gen: torch.Generator
    step: int = 0


def save_checkpoint(path: Path, s: _State, config: dict) -> None:
    """Atomically write model/optimiser/scheduler/scaler/step/RNG state (weights_only-loadable)."""
    payload = {
        "model": s.model.state_dict(), "optimizer": s.opt.state_dict(), "scheduler": s.sched.state_dict(),
        "scaler": s.scaler.state_dict(), "step": s.step, "generator": s.gen.get_state(),
        "config_json": json.dumps(config, sort_keys=True),
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # a crash mid-write never leaves a truncated checkpoint behind


def load_checkpoint(path: Path, s: _State) -> None:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    s.model.load_state_dict(payload["model"])
    s.opt.load_state_dict(payload["optimizer"])
    s.sched.load_state_dict(payload["scheduler"])
    s.scaler.load_state_dict(payload["scaler"])
    s.gen.set_state(payload["generator"])
    s.step = int(payload["step"])


def _train_step(task: Task, s: _State, t: TrainConfig, amp: torch.dtype | None) -> float:
    inputs, targets = task.sample(t.batch_size, s.gen)
    with torch.autocast(inputs.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        loss = LOSSES[t.loss](task.model(inputs).float(), targets)
    value = loss.item()
    if not math.isfinite(value):
        raise NonFiniteLossError(s.step + 1, value)
    s.opt.zero_grad(set_to_none=True)
    s.scaler.scale(loss).backward()
    if t.grad_clip > 0:
        s.scaler.unscale_(s.opt)
        nn.utils.clip_grad_norm_(task.model.parameters(), t.grad_clip)
    s.scaler.step(s.opt)
    s.scaler.update()
    s.sched.step()
    s.step += 1
    return value


def _summary(metrics: dict[str, float]) -> str:
    keys = ("eval/seen/removal", "eval/unseen/removal", "eval/gap", "eval/heldout/psnr")
    return "  ".join(f"{k.removeprefix('eval/')} {metrics[k]:.3f}" for k in keys if k in metrics)


def run_loop(
    task: Task,
    t: TrainConfig,
    seed: int,
    device: torch.device,
    on_eval: OnEval | None = None,
    checkpoint_path: Path | None = None,
    resume: bool = False,
    config: dict | None = None,
) -> dict[str, float]:
    """Train, evaluate and checkpoint; returns the last evaluation's metrics plus ``train/*`` keys."""
    model = task.model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=t.lr)
    amp = amp_dtype(device, t.amp)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
    s = _State(model, opt, make_scheduler(opt, t), scaler, torch.Generator(device=device).manual_seed(seed))
    if resume and checkpoint_path is not None and checkpoint_path.exists():
        load_checkpoint(checkpoint_path, s)
        log.info("resumed from %s at step %d", checkpoint_path, s.step)
    metrics: dict[str, float] = {}
    since_eval: list[float] = []
    since_log, tick = 0, time.perf_counter()
    while s.step < t.iterations:
        model.train()
        since_eval.append(_train_step(task, s, t, amp))
        since_log += 1
        if s.step % t.log_every == 0:
            ms = 1000 * (time.perf_counter() - tick) / since_log
            recent = since_eval[-since_log:]
            log.info("step %d/%d  loss %.4f  %.1f ms/it  %s", s.step, t.iterations, sum(recent) / len(recent), ms,
                     _summary(metrics))  # fmt: skip
            since_log, tick = 0, time.perf_counter()
        if s.step % t.eval_every == 0 or s.step == t.iterations:
            eval_start = time.perf_counter()
            metrics = _evaluate(task, s, since_eval)
            since_eval = []
            if checkpoint_path is not None:
                save_checkpoint(checkpoint_path, s, config or {})
            log.info("step %d/%d  evaluated in %.1f s  %s", s.step, t.iterations, time.perf_counter() - eval_start,
                     _summary(metrics))  # fmt: skip
            if on_eval is not None:
                on_eval(s.step, metrics)
            tick += time.perf_counter() - eval_start  # evaluation time is not training time
    return metrics or _evaluate(task, s, [])  # resumed at the last step: evaluate what was loaded


def _evaluate(task: Task, s: _State, losses: list[float]) -> dict[str, float]:
    s.model.eval()
    metrics = task.evaluate(s.model)
    if losses:
        metrics["train/loss"] = sum(losses) / len(losses)
    metrics["train/step"] = s.step
    metrics["train/lr"] = s.sched.get_last_lr()[0]
    return metrics
