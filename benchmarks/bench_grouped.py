"""K members' convolutions as one grouped convolution (``groups=K`` over the members' stacked channels) against
each member's own convolutions in turn, in one run: the other way issue 23 names to stack an ensemble.

    python benchmarks/bench_grouped.py [--k 1 4 16] [--rounds 3] [--device auto]

The model is the cpu presets' shape without the rest of a training step: five 3x3 (2D: batch 8, 48 px,
32 channels) or width-5 (1D: batch 32, 128 samples, 32 channels) convolutions with ReLUs, forward and backward,
in fp32 and in bf16 (autocast, as the trials step on a CPU with AMX or a GPU). What ``vmap`` does to a member
axis of a convolution is this grouped convolution, so a ratio below 1 here is why ``bench_ensemble.py``'s
vmapped ensembles are slower on a CPU, and a ratio above 1 is what stacking can gain at most on a device.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.bench_ensemble import stacking_args
from benchmarks.ops import seconds_each

SHAPES = {"2D": (F.conv2d, 3, 8, (48, 48), 3), "1D": (F.conv1d, 1, 32, (128,), 5)}  # conv, in-ch, batch, size, k
WIDTH, LAYERS = 32, 5


def _weights(dim: str, k: int, device: torch.device) -> list[torch.Tensor]:
    """The stacked members' weights: layer i (k * out, in, kernel...), members on the leading block of rows."""
    _, cin, _, size, ks = SHAPES[dim]
    chans = [cin] + [WIDTH] * (LAYERS - 1) + [cin]
    return [0.1 * torch.randn(k * o, i, *(ks,) * len(size), device=device) for i, o in itertools.pairwise(chans)]


def _step(dim: str, x: torch.Tensor, weights: list[torch.Tensor], groups: int, bf16: bool) -> None:
    """Forward and backward of the conv stack on ``x`` (B, groups * in, *size)."""
    conv, _, _, _, ks = SHAPES[dim]
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        h = x
        for i, w in enumerate(weights):
            h = conv(h, w, padding=ks // 2, groups=groups)
            h = torch.relu(h) if i < len(weights) - 1 else h
    h.float().square().mean().backward()


def time_both(dim: str, k: int, bf16: bool, device: torch.device, steps: int = 10) -> tuple[float, float]:
    """Seconds per step of K members (one by one, grouped), after a warm-up step of each."""
    _, cin, batch, size, _ = SHAPES[dim]
    fmt = torch.channels_last if dim == "2D" else torch.contiguous_format
    stacked = [w.requires_grad_() for w in _weights(dim, k, device)]
    own = [
        [w.detach()[m * w.shape[0] // k : (m + 1) * w.shape[0] // k].clone().requires_grad_() for w in stacked]
        for m in range(k)
    ]
    x = torch.randn(batch, k * cin, *size, device=device).contiguous(memory_format=fmt)
    xs = [x[:, m * cin : (m + 1) * cin].contiguous(memory_format=fmt) for m in range(k)]
    runs = {
        "alone": lambda: [_step(dim, xm, wm, 1, bf16) for xm, wm in zip(xs, own, strict=True)],
        "grouped": lambda: _step(dim, x, stacked, k, bf16),
    }
    for run in runs.values():
        run()  # warm-up
    return seconds_each(runs["alone"], steps, device), seconds_each(runs["grouped"], steps, device)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args, device = stacking_args(p)
    print(f"on {device} ({torch.get_num_threads()} thread(s)); medians of {args.rounds} rounds")
    print(f"{'conv':>4} {'steps':>5} {'K':>4} {'one by one ms/member':>21} {'grouped':>8} {'ratio':>6}")
    for dim in SHAPES:
        for bf16 in (False, True):
            for k in args.k:
                rounds = [time_both(dim, k, bf16, device) for _ in range(args.rounds)]
                a, g = (statistics.median(r[i] for r in rounds) for i in (0, 1))
                steps = "bf16" if bf16 else "fp32"
                row = f"{dim:>4} {steps:>5} {k:>4} {1000 * a / k:>21.2f} {1000 * g / k:>8.2f} {a / g:>5.2f}x"
                print(row, flush=True)


if __name__ == "__main__":
    main()
