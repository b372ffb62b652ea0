"""How often each claim reaches a verdict on null sweeps of the claims protocols' own shape, and the power of the
ladder claims on sweeps with an effect (run by hand).

    python benchmarks/claims_calibration.py [--sweeps 1000] [--resamples 999] [--scale cpu gpu] [--seed-sd 0.6]
    python benchmarks/claims_calibration.py --power 0.3 [--seed-sd 0.6] [--scale cpu]

Every trial of the protocol (``sweeps/spaces/claims.py``) gets metrics of noise (residual SD ``--noise`` or the
``--power`` value) plus an offset shared by the trials of each replicate seed (``--seed-sd``, default the 0.6 dB
measured between the cpu protocol's replicates), so the null and power frames have the design's blocks as a run
has them. The claims are tested as a report tests them. Null: the rate per claim of a raw one-sided p below
alpha / 2 in either direction, and of any verdict (supported or contradicted) after Holm over both directions;
both must stay at or under alpha (0.05); the test suite checks the same on 200 sweeps (tests/test_claims.py).
Power: the rate of "supported" for T1 / T7 / T8 when the metric moves by ``drop`` dB from the bottom to the top
of the ladder, beside the baseline in the same run: the unblocked Spearman test of protocol v1 on the same
frames (its one-sided p below the same Holm threshold). The synthetic sweeps come from tests/claims_frames.py.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from claims_frames import SEED_SD, configs, metrics

from analysis.findings import table
from analysis.stats import rank_test
from analysis.verdicts import ALPHA, CLAIMS, GAIN, PSNR_B, M, N, findings, ladder
from derain.config import flatten
from derain.tasks import TASKS

LADDERS = {"T1": (N, GAIN, -1, "n"), "T7": (M, GAIN, -1, "m"), "T8": (N, PSNR_B, +1, "psnr_n")}


def rates(scale: str, sweeps: int, resamples: int, noise: float, seed_sd: float) -> tuple[dict, dict, float]:
    """(raw rate, any-verdict rate) per claim over ``sweeps`` null sweeps, and seconds per sweep."""
    frame, start = configs(scale), time.perf_counter()
    raw, decided = dict.fromkeys(CLAIMS, 0), dict.fromkeys(CLAIMS, 0)
    for seed in range(sweeps):
        tested = findings(metrics(frame, np.random.default_rng(10_000 + seed), noise, seed_sd), resamples)
        verdicts = table(tested, ALPHA).set_index("claim")["verdict"]
        for f in tested:
            raw[f.claim] += f.status == "tested" and min(f.p_sup, f.p_con) < ALPHA / 2
            decided[f.claim] += verdicts[f.claim] in ("supported", "contradicted")
    per = (time.perf_counter() - start) / sweeps
    return {c: v / sweeps for c, v in raw.items()}, {c: v / sweeps for c, v in decided.items()}, per


def _unblocked(frame, claim: str, threshold: float, resamples: int) -> bool:
    """Protocol v1's test of a ladder claim: Spearman's rho over every trial of the ladder, seeds pooled."""
    x, y, sign, _ = LADDERS[claim]
    task = next(name for name, kind in TASKS.items() if x in flatten(kind.blank()))  # the task the axis is of
    part = ladder(frame[frame[x].notna() & (frame["task"] == task)], x)
    return rank_test(part[x].to_numpy(float), part[y].to_numpy(float), resamples).p(sign) < threshold


def power(scale: str, sweeps: int, resamples: int, sd: float, seed_sd: float, drops: list[float]) -> None:
    """Print the rate of "supported" (blocked, after Holm) and of the unblocked baseline for T1 / T7 / T8."""
    frame = configs(scale)
    doublings = {
        "n": np.log2(frame[N].max() / frame[N].min()),
        "psnr_n": np.log2(frame[N].max() / frame[N].min()),
        "m": np.log2(frame[M].max() / frame[M].min()),
    }
    print(f"{scale}: power at residual SD {sd} dB, seed SD {seed_sd} dB ({sweeps} sweeps each); blocked / unblocked")
    for drop in drops:
        effects = {k: drop / d for k, d in doublings.items()}
        blocked, unblocked = dict.fromkeys(LADDERS, 0), dict.fromkeys(LADDERS, 0)
        for seed in range(sweeps):
            sweep = metrics(frame, np.random.default_rng(20_000 + seed), sd, seed_sd, **effects)
            tested = findings(sweep, resamples)
            verdicts = table(tested, ALPHA).set_index("claim")["verdict"]
            threshold = ALPHA / (2 * sum(f.status == "tested" for f in tested))  # Holm's first step
            for claim in LADDERS:
                blocked[claim] += verdicts[claim] == "supported"
                unblocked[claim] += _unblocked(sweep, claim, threshold, resamples)
        cells = "  ".join(f"{c} {blocked[c] / sweeps:.2f} / {unblocked[c] / sweeps:.2f}" for c in LADDERS)
        print(f"  drop {drop:.1f} dB: {cells}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sweeps", type=int, default=1000)
    p.add_argument("--resamples", type=int, default=999)
    p.add_argument("--scale", nargs="+", default=["cpu", "gpu"])
    p.add_argument("--noise", type=float, default=1.0, help="residual SD of the null sweeps")
    p.add_argument("--seed-sd", type=float, default=SEED_SD, help="SD of each replicate seed's shared offset")
    p.add_argument("--power", type=float, metavar="SD", help="instead: power of T1/T7/T8 at this residual SD")
    p.add_argument("--drops", type=float, nargs="+", default=[0.5, 1.0, 1.5, 2.0, 3.0])
    args = p.parse_args()
    if args.power:
        for scale in args.scale:
            power(scale, args.sweeps, args.resamples, args.power, args.seed_sd, args.drops)
        return
    se = math.sqrt(ALPHA * (1 - ALPHA) / args.sweeps)
    for scale in args.scale:
        raw, decided, per = rates(scale, args.sweeps, args.resamples, args.noise, args.seed_sd)
        print(f"{scale}: {args.sweeps} null sweeps (seed SD {args.seed_sd}), {per * 1000:.0f} ms each; "
              f"alpha {ALPHA}, MC s.e. {se:.3f}")  # fmt: skip
        print("claim  raw p<alpha/2  any verdict (Holm, both directions)")
        for claim in CLAIMS:
            print(f"{claim:5}  {raw[claim]:13.3f}  {decided[claim]:11.3f}")


if __name__ == "__main__":
    main()
