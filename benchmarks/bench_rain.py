"""Rain layers per second at 128 px, batch 64: batched torch path vs the per-image OpenCV reference and
albumentations RandomRain, at 1 and 2 CPU threads (and on CUDA when present), printed as ratios, with the
number of torch ops one batch launches (torch.profiler; the same at every batch size).

    python benchmarks/bench_rain.py [--batches 3] [--rounds 5] [--types small,medium,large]

Goal (issue 2): torch >= 3x the OpenCV reference and >= 1x albumentations on CPU; on a GPU >= 50x the CPU
reference.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.ops import rain_ops
from benchmarks.rain_reference import add_rain_reference
from derain.degradations.rain import RAIN_TYPES, add_rain

SIZE, BATCH = 128, 64


def _rate(fn, batches: int, sync=lambda: None) -> float:
    """Images per second of ``fn`` (one call = one batch of BATCH)."""
    sync()
    start = time.perf_counter()
    for _ in range(batches):
        fn()
    sync()
    return batches * BATCH / (time.perf_counter() - start)


def _interleaved(fns: dict, batches: int, rounds: int) -> dict[str, float]:
    """Median rate of each function over ``rounds`` rounds that alternate between them (after one warm-up
    call each), so that a slow spell of a shared machine hits every column alike."""
    for fn in fns.values():
        fn()
    rates = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            rates[name].append(_rate(fn, batches))
    return {name: statistics.median(r) for name, r in rates.items()}


def _torch_batch(name: str, device: str):
    clean = torch.rand(BATCH, 3, SIZE, SIZE, device=device)
    g = torch.Generator(device=device).manual_seed(0)
    return lambda: add_rain(clean, name, g)


def _reference_batch(name: str):
    clean = np.random.default_rng(0).random((SIZE, SIZE, 3), dtype=np.float32)
    rng = np.random.default_rng(0)
    return lambda: [add_rain_reference(clean, RAIN_TYPES[name], rng) for _ in range(BATCH)]


def _albu_batch():
    img = (np.random.default_rng(0).random((SIZE, SIZE, 3)) * 255).astype(np.uint8)
    rain = A.RandomRain(drop_length=20, blur_value=3, brightness_coefficient=1.0, rain_type="heavy", p=1.0)
    rain.set_random_seed(0)
    return lambda: [rain(image=img)["image"] for _ in range(BATCH)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=3, help="batches per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; medians are printed")
    parser.add_argument("--types", default="small,medium,large")
    args = parser.parse_args()
    names = args.types.split(",")
    print(f"rain layers/s at {SIZE} px, batch {BATCH}; torch {torch.__version__}, OpenCV {cv2.__version__}")
    head = f"{'threads':>7} {'type':>7} {'torch':>9} {'opencv-ref':>10} {'albu':>9} {'vs ref':>7} {'vs albu':>8}"
    print(f"{head} {'ops/batch':>9}")
    cpu_ref = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)
        for name in names:
            fns = {"torch": _torch_batch(name, "cpu"), "ref": _reference_batch(name), "albu": _albu_batch()}
            rate = _interleaved(fns, args.batches, args.rounds)
            ours, ref, albu = rate["torch"], rate["ref"], rate["albu"]
            cpu_ref[name] = ref if threads == 1 else cpu_ref[name]
            rates = f"{ours:>9.0f} {ref:>10.0f} {albu:>9.0f}"
            ops = rain_ops(name, BATCH, SIZE)
            print(f"{threads:>7} {name:>7} {rates} {ours / ref:>6.1f}x {ours / albu:>7.1f}x {ops:>9}")
    if torch.cuda.is_available():
        print(f"CUDA ({torch.cuda.get_device_name()}), ratio against the 1-thread CPU reference:")
        for name in names:
            fn = _torch_batch(name, "cuda")
            fn()
            rate = _rate(fn, args.batches * args.rounds * 4, torch.cuda.synchronize)
            print(f"{'cuda':>7} {name:>7} {rate:>9.0f} {cpu_ref[name]:>10.0f} {'':>9} {rate / cpu_ref[name]:>6.1f}x")


if __name__ == "__main__":
    main()
