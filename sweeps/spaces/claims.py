"""The paper's claims as pre-declared protocols: the trials that decide T1-T8 (analysis/claims.py), then the report.

Hypothesis: more (and more complex) training backgrounds make a restorer learn the degradation instead of
the content, so it removes unseen degradations worse (T1, T6 denoising, T7 1D); simpler backgrounds (T2),
a wider training-rain ladder (T4) and a content prior (T5) help; it is not a capacity effect (T3); held-out
background fidelity still improves with N (T8). Every trial sits the same exam (the yardstick); every verdict
is a one-sided permutation test, Holm-adjusted across the claims the run tests.

Protocols (each scale is a preset; the trial lists below are the whole design, fixed before running):

- ``cpu`` tests T1, T7 and T8 in under 30 minutes on two cores (measured from a fresh clone: 1114 s after a
  92 s install). 8 2D trials at the 1500-iteration cpu preset: the N ladder 4, 32, 256, 2048 on
  ``deadleaves`` (one distinct image per background, so N means N images) x 2 replicates (seeds 0-1); the
  design's smallest p is 1/2520, below Holm's 0.05 / 3. Two 2D trials run at once and each takes about 4
  minutes then (measured: 240 s), so a third replicate would not fit.
  12 1D trials: M = 1, 16, 256, 4096 functions x 3 replicates at K = 32, on fresh seeds (10-12, content seed
  1) that were not used when the ladder was chosen. T2-T6 are reported "not run". Its power is limited:
  at the trial-to-trial spread it measured (SD about 0.6 dB of yardstick gain), the 2D ladder has 80 % power
  only for a drop of about 2.2 dB from N = 4 to 2048 (``benchmarks/claims_calibration.py --power 0.6``).
- ``gpu`` decides T1-T6 and T8 (and T7) in about 1-1.5 GPU-hours on one H100/H200 with several trials per
  GPU (``--gpus-per-trial 0.125``): 70 2D trials of 3000 iterations at the gpu preset (128 px, ResNet 16x64) -
  T1/T8 N ladder x 3 replicates (12); T3 the ladder for a UNet and for a narrower, shallower ResNet (32 x 8) x
  2 replicates (16); T2 the three sharpness bins x N = 32, 256 x 2 replicates (12); T4 the three wider rungs of
  the rain ladder at N = 2048 x 2 replicates (6; the 'small' rung is the T1 ladder's); T5 the prior and the
  unquantised autoencoder over the ladder x 2 replicates (16; paired with the T1 ladder's seeds 0-1); T6 the
  denoising ladder x 2 replicates (8); plus 15 1D trials (M ladder to 16384 x 3). An estimate, not yet run
  end to end: on an H200, 400 gpu-preset iterations took 17.2 s with start-up and evaluation, so a trial is
  about 2 minutes; 8 at once give 1.5-2.4x the trials per hour of one (issue 15), so 70 trials take 60-95
  minutes.
- ``smoke``: a few seconds per trial, the cpu protocol's shape in miniature, for tests.
- ``paper``: the gpu protocol at the paper's preset (120k iterations), for a cluster.
"""

from __future__ import annotations

from typing import Any

from derain.data.banks import BINS
from derain.degradations import RAIN_LADDER
from derain.keys import YARDSTICK_GAIN
from derain.toy1d.streaks import STREAK_LADDER
from sweeps.spaces.base import Space

LADDER = {"smoke": [4, 16, 64], "cpu": [4, 32, 256, 2048], "gpu": [4, 32, 256, 2048], "paper": [4, 32, 256, 2048]}
POOL = {"smoke": 256, "cpu": 4096, "gpu": 4096, "paper": 8192}
M_LADDER = {"smoke": [1, 4, 16], "cpu": [1, 16, 256, 4096], "gpu": [1, 16, 256, 4096, 16384]}
M_LADDER["paper"] = M_LADDER["gpu"]
CONTENT_SEED, TOY_SEEDS = 1, [10, 11, 12]  # fresh: not the seeds the M ladder was chosen on
ITERATIONS = {"gpu": {"train.iterations": 3000, "train.eval_every": 1000}}


def _base(scale: str) -> dict[str, Any]:
    return {"task": "derain", "data.source": "deadleaves", "rain.train": "small", "data.pool_size": POOL[scale],
            **ITERATIONS.get(scale, {})}  # fmt: skip


def _ladder(scale: str, seeds: list[int], **extra: Any) -> list[dict[str, Any]]:
    return [{**_base(scale), **extra, "seed": s, "data.num_backgrounds": n} for s in seeds for n in LADDER[scale]]


def _toy(scale: str, seeds: list[int]) -> list[dict[str, Any]]:
    toy = {"task": "toy1d", "content.terms": 32, "content.seed": CONTENT_SEED, "streaks.train": STREAK_LADDER[0]}
    return [{**toy, "seed": s, "content.count": m} for s in seeds for m in M_LADDER[scale]]


def _full(scale: str) -> list[dict[str, Any]]:
    """The gpu / paper protocol: every claim."""
    top, two = LADDER[scale][-1], [0, 1]
    points = _ladder(scale, [0, 1, 2])  # T1, T8 (and T3's ResNet, T4's first rung, T5's baseline)
    points += _ladder(scale, two, **{"model.name": "unet"})  # T3
    points += _ladder(scale, two, **{"model.width": 32, "model.depth": 8})  # T3: not a capacity problem
    points += [
        {**_base(scale), "seed": s, "data.num_backgrounds": n, "data.sharpness_bin": b}
        for s in two
        for n in LADDER[scale][1:3]
        for b in BINS
    ]  # T2
    points += [
        {**_base(scale), "seed": s, "data.num_backgrounds": top, "rain.train": r} for s in two for r in RAIN_LADDER[1:]
    ]  # T4
    points += _ladder(scale, two, **{"prior.kind": "vq"}) + _ladder(scale, two, **{"prior.kind": "ae"})  # T5
    points += _ladder(scale, two, degradation="noise")  # T6
    return points + _toy(scale, TOY_SEEDS)  # T7


PROTOCOLS = {
    "smoke": lambda: _ladder("smoke", [0]) + _toy("smoke", TOY_SEEDS[:1]),
    "cpu": lambda: _ladder("cpu", [0, 1]) + _toy("cpu", TOY_SEEDS),
    "gpu": lambda: _full("gpu"),
    "paper": lambda: _full("paper"),
}

SPACE = Space(
    name="claims",
    hypothesis=__doc__,
    task="derain",
    metric=YARDSTICK_GAIN,
    points={scale: make() for scale, make in PROTOCOLS.items()},
    report=True,
)
