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


def rates(scale: str, sweeps: int, resamples: int) -> tuple[dict[str, float], dict[str, float], float]:
    """(raw rate, supported rate) per claim over ``sweeps`` null sweeps, and seconds per sweep."""
    frame, start = configs(scale), time.perf_counter()
    raw, supported = dict.fromkeys(CLAIMS, 0), dict.fromkeys(CLAIMS, 0)
    for seed in range(sweeps):
        tested = findings(metrics(frame, np.random.default_rng(10_000 + seed)), resamples)
        verdicts = table(tested, ALPHA).set_index("claim")["verdict"]
        for f in tested:
            raw[f.claim] += f.status == "tested" and f.p_sup < ALPHA
            supported[f.claim] += verdicts[f.claim] == "supported"
    per = (time.perf_counter() - start) / sweeps
    return {c: v / sweeps for c, v in raw.items()}, {c: v / sweeps for c, v in supported.items()}, per


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sweeps", type=int, default=1000)
    p.add_argument("--resamples", type=int, default=999)
    p.add_argument("--scale", nargs="+", default=["cpu", "gpu"])
    args = p.parse_args()
    se = math.sqrt(ALPHA * (1 - ALPHA) / args.sweeps)
    for scale in args.scale:
        raw, supported, per = rates(scale, args.sweeps, args.resamples)
        print(f"{scale}: {args.sweeps} null sweeps, {per * 1000:.0f} ms each; alpha {ALPHA}, MC s.e. {se:.3f}")
        print("claim  raw p<alpha  supported (Holm)")
        for claim in CLAIMS:
            print(f"{claim:5}  {raw[claim]:11.3f}  {supported[claim]:16.3f}")


if __name__ == "__main__":
    main()
