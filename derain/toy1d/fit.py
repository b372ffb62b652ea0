"""``fit1d``: train a 1D restorer with the shared loop and evaluate it on seen and unseen streaks.

Evaluation sets: every named streak range (and 'custom' when trained on it) x {seen functions (drawn from the
M training functions), held-out functions (fresh draws)}; fixed by ``content.seed``. Metric keys are the 2D
ones: ``eval/<streaks>/<seen|heldout>/<metric>``, ``eval/{seen,unseen}/*``, ``eval/gap``, ...
"""

from __future__ import annotations

import zlib
from pathlib import Path

import torch

from derain.config import to_dict
from derain.data import EvalSet
from derain.loop import OnEval, Task, run_loop
from derain.toy1d.config import Toy1dConfig
from derain.toy1d.content import make_functions
from derain.toy1d.models import build_toy_model
from derain.toy1d.streaks import STREAK_TYPES, StreakSpec, streak_spec
from derain.train import evaluate_sets, predict, resolve_device


def _functions(cfg: Toy1dConfig, count: int, stream: int) -> torch.Tensor:
    c = cfg.content
    return make_functions(c.family, count, c.terms, c.length, torch.Generator().manual_seed(c.seed * 1000 + stream))


def eval_streaks(cfg: Toy1dConfig) -> dict[str, StreakSpec]:
    evals = {n: streak_spec(n) for n in STREAK_TYPES}
    if cfg.streaks.train == "custom":
        evals["custom"] = streak_spec("custom", cfg.streaks)
    return evals


def build_eval_sets_1d(cfg: Toy1dConfig, train_functions: torch.Tensor) -> list[EvalSet]:
    """Fixed evaluation sets; seen-function sets reuse training functions (with replacement when M < n)."""
    trained = streak_spec(cfg.streaks.train, cfg.streaks)
    n = cfg.content.eval_functions
    heldout = _functions(cfg, n, stream=1)
    sets = []
    for name, spec in eval_streaks(cfg).items():
        for bgset in ("seen", "heldout"):
            g = torch.Generator().manual_seed(cfg.content.seed * 1_000_003 + zlib.crc32(f"{name}/{bgset}".encode()))
            if bgset == "seen":
                clean = train_functions[torch.randint(len(train_functions), (n,), generator=g)]
            else:
                clean = heldout
            degraded, support = spec.apply(clean, g)
            sets.append(EvalSet(name, bgset, trained.covers(spec), True, clean, degraded, support))
    return sets


class _Sampler:
    """Training batches: M functions, streaks with probability p; everything on ``device``."""

    def __init__(self, functions: torch.Tensor, spec: StreakSpec, probability: float, device: torch.device):
        self.functions, self.spec, self.p = functions.to(device), spec, probability

    def sample(self, batch: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        clean = self.functions[torch.randint(len(self.functions), (batch,), generator=g, device=g.device)]
        degraded, _ = self.spec.apply(clean, g)
        keep = torch.rand(batch, generator=g, device=g.device) < self.p
        return torch.where(keep.view(-1, 1, 1), degraded, clean), clean


def build_task_1d(cfg: Toy1dConfig, device: torch.device, with_sets: bool = False):
    """The loop's Task (and, with ``with_sets``, the evaluation sets as a second value)."""
    functions = _functions(cfg, cfg.content.count, stream=0)
    sets = build_eval_sets_1d(cfg, functions)
    sampler = _Sampler(functions, streak_spec(cfg.streaks.train, cfg.streaks), cfg.streaks.degrade_probability, device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = build_toy_model(cfg.model, cfg.content.length)
    task = Task(model.to(device), sampler.sample, lambda m: evaluate_sets(m, sets, device, cfg.train.eval_batch))
    return (task, sets) if with_sets else task


def save_signal_plot(model: torch.nn.Module, sets: list[EvalSet], device: torch.device, path: Path) -> None:
    """PNG: degraded / output / clean of one held-out function, for the first seen and first unseen streaks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    held = [s for s in sets if s.bgset == "heldout"]
    rows = [s for s in (next((s for s in held if s.seen), None), next((s for s in held if not s.seen), None)) if s]
    fig, axes = plt.subplots(len(rows), 1, figsize=(8, 2.4 * len(rows)), squeeze=False)
    for ax, s in zip(axes[:, 0], rows, strict=True):
        out = predict(model, s.degraded[:1], device)[0, 0]
        ax.plot(s.degraded[0, 0], color="0.6", lw=1, label="degraded")
        ax.plot(out, color="C3", lw=1.2, label="output")
        ax.plot(s.clean[0, 0], color="C0", lw=1, ls="--", label="clean")
        ax.set_title(f"{s.degradation} ({'seen' if s.seen else 'unseen'} streaks, held-out function)", fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fit1d(
    cfg: Toy1dConfig,
    device: str | torch.device = "cpu",
    on_eval: OnEval | None = None,
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
) -> dict[str, float]:
    """Train on ``cfg``; same contract as ``derain.train.fit`` (metrics dict, on_eval, checkpoints, resume)."""
    device = resolve_device(device)
    task = build_task_1d(cfg, device)
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    return run_loop(task, cfg.train, cfg.seed, device, on_eval, path, resume, to_dict(cfg))
