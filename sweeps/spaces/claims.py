"""The smallest set of trials that tests every claim (T1-T8 in analysis/claims.py), followed by the report.

Each block of trials below exists for one claim: N ladders on photos (T1, T8), sharpness bins (T2), a second
architecture (T3), the rain-diversity ladder (T4), the content prior (T5), the denoising analogue (T6) and the
1D analogue (T7), repeated over seeds where the scale allows. At ``cpu`` scale the 2D trials are shortened to
fit 30 minutes on two cores, so the 2D claims are decided only as far as that allows; the 1D claims are
decided there. The 1D M ladder starts at one function: at ``cpu`` scale the gap grows from M = 1 to M = 256
and then levels off (measured: 0.02 at M = 1, 0.03 at 16, 0.04 at 256 and 4096, three seeds each), so a ladder
that starts at 16 sees too little of the effect to decide it.
"""

from __future__ import annotations

from typing import Any

from derain.degradations import RAIN_LADDER
from derain.keys import YARDSTICK_GAIN
from derain.toy1d.streaks import STREAK_LADDER
from sweeps.spaces.base import Space

SIZES = {  # scale -> (2D Ns, seeds, 2D overrides, 1D Ms, 1D seeds)
    "smoke": ([4, 64], [0], {}, [1, 64], [0]),
    "cpu": ([4, 64, 1024], [0, 1], {"train.iterations": 500, "train.eval_every": 250}, [1, 16, 256, 4096], [0, 1, 2]),
    "gpu": ([4, 64, 512, 4096], [0, 1, 2], {"data.pool_size": 4096}, [1, 16, 256, 4096, 16384], [0, 1, 2]),
    "paper": ([4, 64, 512, 4096], [0, 1, 2], {"data.pool_size": 8192}, [1, 16, 256, 4096, 16384], [0, 1, 2]),
}


def _points(scale: str) -> list[dict[str, Any]]:
    ns, seeds, extra, ms, toy_seeds = SIZES[scale]
    mid = ns[len(ns) // 2]
    rain = {"task": "derain", "data.source": "photos", "rain.train": "small", **extra}
    points = []
    for seed in seeds:
        points += [{**rain, "seed": seed, "data.num_backgrounds": n} for n in ns]  # T1, T8
        points += [
            {**rain, "seed": seed, "data.num_backgrounds": mid, "data.sharpness_bin": b} for b in ("low", "high")
        ]  # T2
        points += [{**rain, "seed": seed, "data.num_backgrounds": n, "prior.kind": "vq"} for n in (ns[0], ns[-1])]  # T5
    points += [{**rain, "seed": s, "data.num_backgrounds": n, "model.name": "unet"} for s in seeds for n in ns]  # T3
    points += [
        {**rain, "seed": seeds[0], "data.num_backgrounds": mid, "rain.train": r} for r in RAIN_LADDER[1:]
    ]  # T4 (small is in the T1 block)
    points += [{**rain, "seed": s, "data.num_backgrounds": n, "degradation": "noise"} for s in seeds for n in ns]  # T6
    toy = {"task": "toy1d", "content.terms": 32}
    for seed in toy_seeds:
        points += [{**toy, "seed": seed, "content.count": m, "streaks.train": "narrow"} for m in ms]  # T7 (T1 part)
        points += [
            {**toy, "seed": seed, "content.count": ms[-1], "streaks.train": t} for t in STREAK_LADDER[1:]
        ]  # T7 (T4 part)
    return points


SPACE = Space(
    name="claims",
    hypothesis=__doc__,
    task="derain",
    metric=YARDSTICK_GAIN,
    points={scale: _points(scale) for scale in SIZES},
    report=True,
)
