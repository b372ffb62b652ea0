"""Synthetic sweeps of the claims space's own shape, with known effects, for the claims tests.

Every trial of a protocol (``sweeps/spaces/claims.py``) becomes one row with its full config, as
``analysis.load`` returns it, and the metrics the claims read, drawn from a model whose effects are set per
claim: 0 everywhere is a null sweep. As in a real sweep, the trials of one replicate seed share an offset
(``seed_sd``, default the 0.6 dB measured between the cpu protocol's replicates): they share their
initialisation, batch and rain stream and nested background draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.verdicts import LADDER_GAIN
from derain.data.banks import BINS
from derain.degradations import RAIN_LADDER
from derain.keys import GAP, OWN_BIN_GAIN_LOST, YARDSTICK_E_B, YARDSTICK_GAIN, YARDSTICK_PSNR_B
from sweeps.plan import TrialSpec, flat_params
from sweeps.spaces import REGISTRY

# effect name -> what it moves (per unit of its regressor), matching each claim's claimed direction at +1
EFFECTS = ("n", "psnr_n", "bin", "rung", "prior", "m", "unet_n")
SEED_SD = 0.6  # dB: the spread of whole replicates (a seed's offset), measured on the cpu protocol


def configs(scale: str) -> pd.DataFrame:
    """The protocol's trials as full-config rows (finished, at a plateau, with trial ids)."""
    spec = TrialSpec("derain", scale, {})
    rows = [flat_params(spec, {"point": point}) for point in REGISTRY["claims"].points[scale]]
    frame = pd.DataFrame(rows)
    return frame.assign(status="finished", plateau=True, trial_id=[f"t{i}" for i in range(len(frame))])


def metrics(
    frame: pd.DataFrame, rng: np.random.Generator, noise: float = 1.0, seed_sd: float = SEED_SD, **effects: float
) -> pd.DataFrame:
    """``frame`` with the claims' metrics: residual noise (SD ``noise``) + a per-seed offset (SD ``seed_sd``) +
    the named effects (see ``EFFECTS``)."""
    e = {k: effects.get(k, 0.0) for k in EFFECTS}
    unknown = set(effects) - set(EFFECTS)
    assert not unknown, unknown
    toy = frame["task"] == "toy1d"
    log_n = np.log2(frame["data.num_backgrounds"].where(~toy, 1).astype(float))
    log_m = np.log2(frame["content.count"].where(toy, 1).astype(float))
    bins = frame["data.sharpness_bin"].map({b: i for i, b in enumerate(BINS)}).fillna(0)
    rung = frame["rain.train"].map({r: i for i, r in enumerate(RAIN_LADDER)}).fillna(0)
    unet = (frame["model.name"] == "unet").astype(float)
    slope_n = np.where(unet > 0, e["unet_n"] if "unet_n" in effects else e["n"], e["n"])
    block = frame["task"].astype(str) + "|" + frame["seed"].astype(str)
    offset = block.map({b: seed_sd * rng.standard_normal() for b in sorted(block.unique())}).to_numpy(float)

    def draw() -> np.ndarray:  # one measurement: the seed's offset plus residual noise
        return offset + noise * rng.standard_normal(len(frame))

    gain = (
        -slope_n * log_n * ~toy
        - e["bin"] * bins
        + e["prior"] * (frame["prior.kind"] == "vq")
        - e["m"] * log_m * toy
        + draw()
    )
    psnr_b = 30 + e["psnr_n"] * log_n + draw()
    return frame.assign(
        **{
            YARDSTICK_GAIN: gain,
            YARDSTICK_PSNR_B: psnr_b,
            YARDSTICK_E_B: 10 ** (-psnr_b / 10),
            LADDER_GAIN: 2 + e["rung"] * rung + draw(),
            OWN_BIN_GAIN_LOST: np.where(frame["data.sharpness_bin"].isin(BINS), 3 + e["bin"] * bins + draw(), np.nan),
            GAP: rng.standard_normal(len(frame)),
        }
    )
