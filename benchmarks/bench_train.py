"""Training-loop overhead: iterations/s of ``fit``'s loop (evaluation off) versus a bare PyTorch loop with the
same model, batch and pre-generated data, in one run; and the share of step time spent making data.

    python benchmarks/bench_train.py [--scale cpu] [--iterations 40] [--rounds 5] [--device auto] [--set KEY=VALUE ...]

Goal (issue 3): fit within 5 % of the bare loop (data generation excluded, as the bare loop has none) and
data <= 10 % of step time.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.ops import seconds_each
from derain.cli.common import parse_overrides
from derain.config.presets import make_config
from derain.config.schema import Config
from derain.engine.device import resolve_device
from derain.engine.loop import LOSSES, RunParts, amp_dtype, train_loop
from derain.train import build_task


def time_fit(parts: RunParts, cfg: Config, device: torch.device, iterations: int) -> float:
    """Seconds per iteration of the shared loop with evaluation replaced by a no-op."""
    quiet = RunParts(parts.model, parts.sample, lambda m: {})
    t = cfg.train.__class__(
        **{**cfg.train.__dict__, "iterations": iterations, "eval_every": iterations, "log_every": 10**9}
    )
    train_loop(quiet, train=t, seed=cfg.seed, device=device)  # warm-up (allocator, kernels)
    return seconds_each(lambda: train_loop(quiet, train=t, seed=cfg.seed, device=device), 1, device) / iterations


def time_bare(model: torch.nn.Module, batches: list, cfg: Config, device: torch.device, iterations: int) -> float:
    """Seconds per iteration of a minimal Adam loop over pre-generated batches, same loss and AMP setting."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    loss_fn = LOSSES[cfg.train.loss]
    amp = amp_dtype(device, cfg.train.amp)

    def run(n: int) -> None:
        for i in range(n):
            x, y = batches[i % len(batches)]
            with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                loss = loss_fn(model(x).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    run(5)
    return seconds_each(lambda: run(iterations), 1, device) / iterations


def time_data(parts: RunParts, cfg: Config, device: torch.device, iterations: int) -> float:
    g = torch.Generator(device=device).manual_seed(0)
    parts.sample(cfg.train.batch_size, g)
    return seconds_each(lambda: parts.sample(cfg.train.batch_size, g), iterations, device)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="cpu")
    p.add_argument("--iterations", type=int, default=40, help="iterations per round")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds; medians are printed")
    p.add_argument("--device", default="auto")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    args = p.parse_args()
    device = resolve_device(args.device)
    cfg = make_config(args.scale, parse_overrides(args.overrides, Config()))
    parts = build_task(cfg, device)
    bare_model = copy.deepcopy(parts.model)
    g = torch.Generator(device=device).manual_seed(1)
    batches = [parts.sample(cfg.train.batch_size, g) for _ in range(16)]
    rounds: dict[str, list[float]] = {"fit": [], "bare": [], "data": []}
    for _ in range(args.rounds):  # interleaved, so a slow spell of a shared machine hits both loops alike
        rounds["fit"].append(time_fit(parts, cfg, device, args.iterations))
        rounds["bare"].append(time_bare(bare_model, batches, cfg, device, args.iterations))
        rounds["data"].append(time_data(parts, cfg, device, args.iterations))
    fit_s, bare_s, data_s = (statistics.median(rounds[k]) for k in ("fit", "bare", "data"))
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"scale {args.scale}: {cfg.model.name} {cfg.model.width}x{cfg.model.depth}, "
        f"{cfg.data.patch_size} px, batch {cfg.train.batch_size}, on {name}"
    )
    print(f"fit loop        {1 / fit_s:8.2f} it/s  ({1000 * fit_s:7.2f} ms/it)")
    print(f"bare loop       {1 / bare_s:8.2f} it/s  ({1000 * bare_s:7.2f} ms/it)")
    print(f"data per batch  {1000 * data_s:8.2f} ms  = {100 * data_s / fit_s:.1f} % of a fit step")
    print(f"fit / bare time {fit_s / bare_s:.3f}; without data {(fit_s - data_s) / bare_s:.3f}")


if __name__ == "__main__":
    main()
