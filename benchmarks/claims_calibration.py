"""How often each claim says "supported" on null sweeps of the claims protocols' own shape (run by hand).

    python benchmarks/claims_calibration.py [--sweeps 1000] [--resamples 999] [--scale cpu gpu]

Every trial of the protocol (``sweeps/spaces/claims.py``) gets yardstick metrics of pure noise (no claim is
true), the claims are tested as a report would test them, and the rates are printed per claim: the raw
one-sided p below alpha, and "supported" after Holm. Both must stay at or under alpha (0.05); the test suite
checks the same on 200 sweeps (tests/test_claims.py). The synthetic sweeps come from tests/claims_frames.py.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from claims_frames import configs, metrics

from analysis.claims import ALPHA, CLAIMS, findings
from analysis.findings import table


def rates(
    scale: str, sweeps: int, resamples: int, noise: float = 1.0, **effects: float
) -> tuple[dict[str, float], dict[str, float], float]:
    """(raw rate, supported rate) per claim over ``sweeps`` sweeps (null unless ``effects``), s per sweep."""
    frame, start = configs(scale), time.perf_counter()
    raw, supported = dict.fromkeys(CLAIMS, 0), dict.fromkeys(CLAIMS, 0)
    for seed in range(sweeps):
        tested = findings(metrics(frame, np.random.default_rng(10_000 + seed), noise, **effects), resamples)
        verdicts = table(tested, ALPHA).set_index("claim")["verdict"]
        for f in tested:
            raw[f.claim] += f.status == "tested" and f.p_sup < ALPHA
            supported[f.claim] += verdicts[f.claim] == "supported"
    per = (time.perf_counter() - start) / sweeps
    return {c: v / sweeps for c, v in raw.items()}, {c: v / sweeps for c, v in supported.items()}, per


def power(scales: list[str], sweeps: int, resamples: int, sd: float) -> None:
    """The rate of "supported" (after Holm) for T1 / T7 when the yardstick gain falls by a total of ``drop`` dB
    from the bottom to the top of the ladder, with trial-to-trial standard deviation ``sd`` dB."""
    for scale in scales:
        frame = configs(scale)
        doublings = {
            "n": np.log2(frame["data.num_backgrounds"].max() / frame["data.num_backgrounds"].min()),
            "m": np.log2(frame["content.count"].max() / frame["content.count"].min()),
        }
        print(f"{scale}: power of T1 / T7 at trial SD {sd} dB ({sweeps} sweeps each)")
        for drop in (0.5, 1.0, 1.5, 2.0, 3.0):
            effects = {k: drop / d for k, d in doublings.items()}
            _, supported, _ = rates(scale, sweeps, resamples, sd, **effects)
            print(f"  drop {drop:.1f} dB: T1 {supported['T1']:.2f}  T7 {supported['T7']:.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sweeps", type=int, default=1000)
    p.add_argument("--resamples", type=int, default=999)
    p.add_argument("--scale", nargs="+", default=["cpu", "gpu"])
    p.add_argument("--power", type=float, metavar="SD", help="instead: power of T1/T7 at this trial-to-trial SD")
    args = p.parse_args()
    if args.power:
        power(args.scale, args.sweeps, args.resamples, args.power)
        return
    se = math.sqrt(ALPHA * (1 - ALPHA) / args.sweeps)
    for scale in args.scale:
        raw, supported, per = rates(scale, args.sweeps, args.resamples)
        print(f"{scale}: {args.sweeps} null sweeps, {per * 1000:.0f} ms each; alpha {ALPHA}, MC s.e. {se:.3f}")
        print("claim  raw p<alpha  supported (Holm)")
        for claim in CLAIMS:
            print(f"{claim:5}  {raw[claim]:11.3f}  {supported[claim]:16.3f}")


if __name__ == "__main__":
    main()
