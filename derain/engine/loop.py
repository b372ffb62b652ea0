"""The iteration-based training loop shared by the 2D restorers and the 1D toy task.

``train_loop`` (keyword-only, called by ``fit`` and ``fit1d``) trains ``parts.model`` on batches from
``parts.sample``, evaluates with ``parts.evaluate`` every ``train.eval_every`` iterations (and at the last) and
keeps a run folder: ``config.json`` at the start, ``checkpoint.pt`` and a line of ``history.jsonl`` at every
evaluation, the run's figure at the last one (all before ``on_eval(step, metrics)`` is called),
``metrics.json`` at the end. It resumes from
the checkpoint with bit-identical results on the CPU: the checkpoint holds model, optimiser, scheduler, step
and the batch generator's state, and loads with ``weights_only=True``.
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
from typing import Any, TypedDict

import torch
import torch.nn.functional as F
from torch import nn

from derain.config.schema import TrainConfig, to_dict
from derain.engine.device import resolve_device
from derain.keys import SUMMARY, TRAIN_LOSS, TRAIN_LR, TRAIN_STEP

log = logging.getLogger(__name__)

# The run folder's files, by the names the CLIs print and the sweeps log to MLflow.
CHECKPOINT, CONFIG, FIGURE, METRICS = "checkpoint.pt", "config.json", "triptych.png", "metrics.json"
HISTORY = "history.jsonl"  # one JSON line per evaluation: {"step": ..., every metric}; the run's curves
SAMPLES = "samples"  # one PNG per evaluation: samples/step_0000500.png


def sample_path(run_dir: Path, step: int) -> Path:
    """Where the evaluation at ``step`` leaves its snapshot image."""
    return run_dir / SAMPLES / f"step_{step:07d}.png"


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
class RunParts:
    """What the loop trains: a model, a batch source and an evaluation.

    ``sample(batch_size, generator) -> (inputs, targets)`` on the model's device; ``evaluate(model) ->``
    metric dict (keys ``eval/...``); ``draw(model, path)`` writes the run's figure (PNG), if it has one;
    ``snapshot(model, path)`` writes the per-evaluation image (PNG, ``samples/step_<step>.png``), if it has one.
    """

    model: nn.Module
    sample: Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
    evaluate: Callable[[nn.Module], dict[str, float]]
    draw: Callable[[nn.Module, Path], None] | None = None
    snapshot: Callable[[nn.Module, Path], None] | None = None


SCHEDULES = ("multistep", "cosine", "constant")  # the learning-rate shapes make_scheduler knows


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
    """The training steps' autocast dtype when AMP is enabled: bf16 on CUDA (fp16 where bf16 is unsupported) and
    on a CPU with AMX tiles; None (full precision) on other CPUs or when disabled. Evaluation is never autocast.

    AMX runs oneDNN's bf16 convolutions 3.1x faster than fp32 (cpu preset: 25 vs 78 ms per step on one core,
    with the same metrics to the noise of a rerun); a CPU without it emulates bf16, slower than fp32."""
    if not enabled:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    has_amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    return torch.bfloat16 if device.type == "cpu" and has_amx() else None


def bf16_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    """``amp_dtype`` for steps without a loss scaler: bf16 where it gives bf16, None (fp32) where it gives fp16."""
    amp = amp_dtype(device, enabled)
    return amp if amp == torch.bfloat16 else None


def precision(device: torch.device, enabled: bool) -> str:
    """The name of the training steps' precision: 'float32', 'bfloat16' or 'float16' (see ``amp_dtype``)."""
    return str(amp_dtype(device, enabled) or torch.float32).removeprefix("torch.")


@dataclass
class LoopState:
    """What a run's checkpoint holds: model, optimizer, schedule, AMP scaler, batch generator, step."""

    model: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    gen: torch.Generator
    step: int = 0


def save_checkpoint(path: Path, s: LoopState, config: dict) -> None:
    """Atomically write model/optimiser/scheduler/scaler/step/RNG state (weights_only-loadable)."""
    payload = {
        "model": s.model.state_dict(),
        "optimizer": s.opt.state_dict(),
        "scheduler": s.sched.state_dict(),
        "scaler": s.scaler.state_dict(),
        "step": s.step,
        "generator": s.gen.get_state(),
        "config_json": json.dumps(config, sort_keys=True),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # a crash mid-write never leaves a truncated checkpoint behind


def load_checkpoint(path: Path, s: LoopState) -> None:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    s.model.load_state_dict(payload["model"])
    s.opt.load_state_dict(payload["optimizer"])
    s.sched.load_state_dict(payload["scheduler"])
    s.scaler.load_state_dict(payload["scaler"])
    s.gen.set_state(payload["generator"])
    s.step = int(payload["step"])


def memory_format(x: torch.Tensor) -> torch.memory_format:
    """channels_last for images (B, C, H, W): oneDNN's and cuDNN's faster layout for convolutions (measured 1.16x
    per step for the cpu-preset ResNet and UNet on one core); the default layout for 1D signals (B, C, L)."""
    return torch.channels_last if x.dim() == 4 else torch.contiguous_format


def _train_step(parts: RunParts, s: LoopState, t: TrainConfig, amp: torch.dtype | None) -> float:
    inputs, targets = parts.sample(t.batch_size, s.gen)
    inputs = inputs.contiguous(memory_format=memory_format(inputs))
    with torch.autocast(inputs.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        loss = LOSSES[t.loss](parts.model(inputs).float(), targets)
    value = loss.item()
    if not math.isfinite(value):
        raise NonFiniteLossError(s.step + 1, value)
    s.opt.zero_grad(set_to_none=True)
    s.scaler.scale(loss).backward()
    if t.grad_clip > 0:
        s.scaler.unscale_(s.opt)
        nn.utils.clip_grad_norm_(parts.model.parameters(), t.grad_clip)
    s.scaler.step(s.opt)
    s.scaler.update()
    s.sched.step()
    s.step += 1
    return value


def _summary(metrics: dict[str, float]) -> str:
    keys = [k for k in SUMMARY if k.startswith("eval/") and k in metrics]
    return "  ".join(f"{k.removeprefix('eval/')} {metrics[k]:.3f}" for k in keys)


def train_loop(
    parts: RunParts,
    *,
    train: TrainConfig,
    seed: int,
    device: torch.device,
    run_dir: Path | None = None,
    on_eval: OnEval | None = None,
    resume: bool = False,
    config: dict | None = None,
) -> dict[str, float]:
    """Train, evaluate and checkpoint; returns the last evaluation's metrics plus ``train/*`` keys.

    Args:
        parts: model, batch source, evaluation (and figure) of the run.
        train: optimisation and evaluation schedule.
        seed: seeds the batch generator (on ``device``).
        device: where the model and every batch live.
        run_dir: the run folder (None: nothing is written, no resume).
        on_eval: ``on_eval(step, metrics)`` after each evaluation, once the folder is up to date.
        resume: continue from ``run_dir/checkpoint.pt`` if it exists.
        config: the run's config as a plain dict, for ``config.json`` and the checkpoint.
    """
    amp = amp_dtype(device, train.amp)
    s = new_state(parts, train, device, seed, amp)
    open_run_dir(run_dir, s, config or {}, resume)
    metrics = _train(parts, s, train, amp, RunWriter(run_dir, config or {}, on_eval)) or evaluate_state(parts, s, [])
    close_run_dir(run_dir, metrics)
    return metrics


def new_state(parts: RunParts, t: TrainConfig, device: torch.device, seed: int, amp: torch.dtype | None) -> LoopState:
    """A run's fresh loop state: ``parts.model`` on ``device`` (channels_last when it convolves images, as its
    2D batches come: see ``memory_format``), Adam, the schedule, the AMP scaler (used for fp16 only) and the
    batch generator seeded with ``seed``."""
    model = parts.model.to(device)
    if any(isinstance(m, nn.Conv2d) for m in model.modules()):
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=t.lr)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
    return LoopState(model, opt, make_scheduler(opt, t), scaler, torch.Generator(device=device).manual_seed(seed))


def open_run_dir(run_dir: Path | None, s: LoopState, config: dict, resume: bool) -> None:
    """Write ``config.json``; with ``resume``, load the folder's checkpoint into ``s``; trim the history to it."""
    if run_dir is None:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / CONFIG).write_text(json.dumps(config, indent=2))
    if resume and (run_dir / CHECKPOINT).exists():
        load_checkpoint(run_dir / CHECKPOINT, s)
        log.info("resumed from %s at step %d", run_dir / CHECKPOINT, s.step)
    _keep_history(run_dir / HISTORY, s.step)


def close_run_dir(run_dir: Path | None, metrics: dict[str, float]) -> None:
    """The run's last metrics into ``metrics.json`` (resumed at the last step: what was loaded, evaluated)."""
    if run_dir is not None:
        (run_dir / METRICS).write_text(json.dumps(metrics, indent=2, sort_keys=True))


class RunOptions(TypedDict, total=False):
    """How ``fit`` / ``fit1d`` run (see ``fit_task``): device, callback, run folder, resume."""

    device: str | torch.device
    on_eval: OnEval | None
    run_dir: str | Path | None
    resume: bool


def fit_task(
    cfg: Any,
    build: Callable[[torch.device], RunParts],
    *,
    device: str | torch.device = "cpu",
    on_eval: OnEval | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
) -> dict[str, float]:
    """Train the parts ``build(device)`` makes for ``cfg`` (any root config with ``train`` and ``seed``).

    Args:
        cfg: a runnable config; its ``train`` section and ``seed`` drive the loop, all of it goes to config.json.
        build: the run parts' builder, called with the resolved device.
        device: 'cpu', 'cuda', 'cuda:1' or 'auto'; data, model and batches all live there.
        on_eval: called as ``on_eval(step, metrics)`` after each evaluation (after the run folder is written).
        run_dir: the run folder (config.json, checkpoint.pt, the figure, metrics.json); None = none.
        resume: continue from the run folder's checkpoint if it exists.
    """
    device = resolve_device(device)
    folder = Path(run_dir) if run_dir is not None else None
    return train_loop(
        build(device),
        train=cfg.train,
        seed=cfg.seed,
        device=device,
        run_dir=folder,
        on_eval=on_eval,
        resume=resume,
        config=to_dict(cfg),
    )


def _keep_history(path: Path, step: int) -> None:
    """The history of the evaluations up to ``step`` (where a resumed run continues; 0 for a new run)."""
    if not path.exists():
        return
    lines = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    path.write_text("".join(f"{line}\n" for line in lines))


@dataclass
class RunWriter:
    """What happens after each evaluation: checkpoint, figure at the last step, then the caller's callback."""

    run_dir: Path | None
    config: dict
    on_eval: OnEval | None

    def save(self, parts: RunParts, s: LoopState, metrics: dict[str, float], last: bool) -> None:
        if self.run_dir is not None:
            save_checkpoint(self.run_dir / CHECKPOINT, s, self.config)
            # Each checkpoint carries the metrics of its step: a result lost elsewhere is recovered from it.
            (self.run_dir / METRICS).write_text(json.dumps(metrics, indent=2, sort_keys=True))
            with (self.run_dir / HISTORY).open("a") as history:
                history.write(json.dumps({"step": s.step, **metrics}, sort_keys=True) + "\n")
            if parts.snapshot is not None:
                parts.snapshot(parts.model, sample_path(self.run_dir, s.step))
            if last and parts.draw is not None:
                parts.draw(parts.model, self.run_dir / FIGURE)

    def notify(self, step: int, metrics: dict[str, float]) -> None:
        if self.on_eval is not None:
            self.on_eval(step, metrics)


def _train(
    parts: RunParts, s: LoopState, t: TrainConfig, amp: torch.dtype | None, after_eval: RunWriter
) -> dict[str, float]:
    """The loop proper: steps, progress lines, evaluations; returns the last evaluation's metrics ({} if none)."""
    metrics: dict[str, float] = {}
    since_eval: list[float] = []
    since_log, tick = 0, time.perf_counter()
    while s.step < t.iterations:
        s.model.train()
        since_eval.append(_train_step(parts, s, t, amp))
        since_log += 1
        if s.step % t.log_every == 0:
            ms = 1000 * (time.perf_counter() - tick) / since_log
            loss = sum(since_eval[-since_log:]) / since_log
            log.info("step %d/%d  loss %.4f  %.1f ms/it  %s", s.step, t.iterations, loss, ms, _summary(metrics))
            since_log, tick = 0, time.perf_counter()
        if s.step % t.eval_every == 0 or s.step == t.iterations:
            eval_start = time.perf_counter()
            metrics = evaluate_state(parts, s, since_eval)
            since_eval = []
            after_eval.save(parts, s, metrics, last=s.step == t.iterations)
            took = time.perf_counter() - eval_start
            log.info("step %d/%d  evaluated in %.1f s  %s", s.step, t.iterations, took, _summary(metrics))
            after_eval.notify(s.step, metrics)
            tick += time.perf_counter() - eval_start  # evaluation time is not training time
    return metrics


def evaluate_state(parts: RunParts, s: LoopState, losses: list[float]) -> dict[str, float]:
    s.model.eval()
    metrics = parts.evaluate(s.model)
    if losses:
        metrics[TRAIN_LOSS] = sum(losses) / len(losses)
    metrics[TRAIN_STEP] = s.step
    metrics[TRAIN_LR] = s.sched.get_last_lr()[0]
    return metrics
