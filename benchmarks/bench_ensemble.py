"""Trials per hour of K-member ensembles (``derain.engine.ensemble``, vmapped) against the same K trials stepped one
after another in one process (the work K single trials do), in one run; and the data (rain) share of a step.

    python benchmarks/bench_ensemble.py [--task derain] [--scale cpu] [--k 1 4 16] [--steps 5] [--rounds 3]
                                        [--device auto]

Both sides run the ensemble's own step on the same K tasks (cpu or gpu preset, the claims ladder's members: N
and seed differ in 2D, M and seed with ``--task toy1d``), one with the members stacked under ``vmap`` and one
with ``stacked=False`` (each member's own module and Adam in turn, numerically a single run). Rounds interleave
the two and the medians are printed. The ratio is the trials-per-hour gain of ensembling K trials; on the CPU a
single trial per core is the alternative, so the ratio is read directly. Goals (issue 23): >= 1.5x at K = 16 on
this 2-core CPU, >= 10x on one GPU at the gpu preset, rain <= 5 % of a GPU step.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.ops import seconds_each
from derain.engine.device import resolve_device
from derain.engine.ensemble import Stack, _losses, _member
from derain.engine.loop import bf16_dtype, precision
from derain.tasks import TASKS

# Member i's overrides: the cpu claims protocol's ladders (sweeps/spaces/claims.py: N backgrounds in 2D, M
# functions in 1D), written out because a GPU machine runs this without Ray (which sweeps/ imports).
DEADLEAVES = {"data.source": "deadleaves", "data.pool_size": 4096}
LADDERS = {
    "derain": lambda i: {**DEADLEAVES, "data.num_backgrounds": (4, 32, 256, 2048)[i % 4]},
    "toy1d": lambda i: {"content.terms": 32, "content.count": (1, 16, 256, 4096)[i % 4]},
}


def _members(task: str, scale: str, k: int, device: torch.device) -> tuple[list, object]:
    kind = TASKS[task]
    cfgs = [kind.make(scale, {**LADDERS[task](i), "seed": i}) for i in range(k)]
    members = [_member(kind.build(c, device), c.seed, c.train, device, None, {}, None, False) for c in cfgs]
    return members, cfgs[0].train


def time_steps(members: list, t, stacked: bool, steps: int, device: torch.device) -> float:
    """Seconds per ensemble step (all K members) of ``steps`` steps after one warm-up step."""
    stack = Stack([m.state for m in members], t, stacked)
    amp = bf16_dtype(device, t.amp)  # as fit_ensemble steps

    def step() -> None:
        _losses(stack, members, t, amp).sum().backward()
        stack.step(t.grad_clip)

    step()
    return seconds_each(step, steps, device)


def time_data(members: list, t, steps: int, device: torch.device) -> float:
    """Seconds per step spent drawing every member's batch (rain rendered on ``device``)."""
    return seconds_each(lambda: [m.parts.sample(t.batch_size, m.state.gen) for m in members], steps, device)


def stacking_args(p: argparse.ArgumentParser) -> tuple[argparse.Namespace, torch.device]:
    """``p``'s arguments with ``--k``, ``--rounds`` and ``--device`` added, and the device; on a CPU one thread,
    since one trial per core is the alternative to stacking there."""
    p.add_argument("--k", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    device = resolve_device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(1)
    return args, device


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=sorted(LADDERS), default="derain")
    p.add_argument("--scale", default="cpu")
    p.add_argument("--steps", type=int, default=5)
    args, device = stacking_args(p)
    print(f"{args.task}, scale {args.scale} on {device} ({torch.get_num_threads()} thread(s), steps in "
          f"{precision(device, True)}); medians of {args.rounds} rounds")  # fmt: skip
    print(f"{'K':>4} {'one by one ms/member-step':>26} {'vmapped':>9} {'ratio':>6} {'data share':>11}")
    for k in args.k:
        members, t = _members(args.task, args.scale, k, device)
        alone, stacked = [], []
        for _ in range(args.rounds):
            alone.append(time_steps(members, t, False, args.steps, device))
            stacked.append(time_steps(members, t, True, args.steps, device))
        a, s = statistics.median(alone), statistics.median(stacked)
        share = time_data(members, t, args.steps, device) / s
        print(f"{k:>4} {1000 * a / k:>26.1f} {1000 * s / k:>9.1f} {a / s:>6.2f}x {share:>10.1%}", flush=True)


if __name__ == "__main__":
    main()
