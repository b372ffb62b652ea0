"""Claims: exact statistics, every verdict of every claim on sweeps of the protocols' own shape, calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from claims_frames import configs, metrics

from analysis.claims import ALPHA, CLAIMS, check_claims, findings
from analysis.findings import table
from analysis.stats import blocked_rank_test, holm, rank_test, replicates_needed, sign_flip_test

RESAMPLES = 499  # valid Monte-Carlo p-values at any count; fewer keep the calibration test in seconds
# the effect that makes each claim true (+) or false (-), in the units of claims_frames.metrics
SUPPORT = {"T1": {"n": 1}, "T2": {"bin": 1}, "T3": {"n": 1}, "T4": {"rung": 1}, "T5": {"prior": 2},
           "T6": {"n": 1}, "T7": {"m": 1}, "T8": {"psnr_n": 1}}  # fmt: skip


def test_sign_flip_is_exact_and_states_its_floor():
    three = sign_flip_test([0.1, 0.2, 0.3])
    assert three.p_up == pytest.approx(1 / 8) and three.floor == pytest.approx(1 / 8)  # 2**-3: cannot decide
    mixed = sign_flip_test([0.1, -0.2, 0.3, 0.4])
    assert mixed.p_up == pytest.approx(3 / 16)  # sign patterns with a mean >= 0.15: 3 of 16
    assert sign_flip_test(np.full(10, 0.5)).p_up == pytest.approx(2**-10)


def test_rank_test_is_exact_for_small_designs():
    x = np.repeat([4, 64, 1024], 2)
    result = rank_test(x, -np.log(x) + [0, 0.01, 0, 0.01, 0, 0.01])
    assert result.p_down == pytest.approx(8 / 720) and result.floor == pytest.approx(8 / 720)  # 2!^3 of 6!
    assert result.p_up == 1.0 and result.statistic < -0.9
    assert replicates_needed([4, 64, 1024], ALPHA / 8, paired=False) == 3  # 2 replicates cannot pass Holm at 8


def test_blocked_rank_test_permutes_within_blocks():
    blocks, x = np.repeat(np.arange(4), 3), np.tile([0, 1, 2], 4)
    perfect = blocked_rank_test(blocks, x, -x + 0.01 * np.arange(12))
    assert perfect.p_down == pytest.approx(6**-4) and perfect.statistic == pytest.approx(-1.0)
    shifted = blocked_rank_test(blocks, x, -x + 10 * blocks)  # block offsets do not matter
    assert shifted.p_down == pytest.approx(6**-4)


def test_holm_adjusts_step_down_in_input_order():
    assert holm([0.01, 0.04, 0.03, math.nan])[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(holm([0.01, math.nan])[1])


def _verdicts(scale: str, seed: int, noise: float = 0.2, **effects: float) -> dict[str, str]:
    frame = metrics(configs(scale), np.random.default_rng(seed), noise=noise, **effects)
    return check_claims(frame, RESAMPLES).set_index("claim")["verdict"].to_dict()


@pytest.mark.parametrize("claim", list(CLAIMS))
def test_every_claim_is_supported_contradicted_or_inconclusive_as_the_data_say(claim):
    effect = SUPPORT[claim]
    assert _verdicts("gpu", 0, **effect)[claim] == "supported"
    assert _verdicts("gpu", 1, **{k: -v for k, v in effect.items()})[claim] == "contradicted"
    assert _verdicts("gpu", 2, noise=1.0, **{k: 0.01 * v for k, v in effect.items()})[claim] == "inconclusive"


def test_t3_needs_every_architecture():
    assert _verdicts("gpu", 0, n=1, unet_n=0, noise=0.05)["T3"] == "inconclusive"  # the UNet shows no effect
    assert _verdicts("gpu", 0, n=1, unet_n=-1)["T3"] == "contradicted"


def test_t5_needs_non_inferior_backgrounds():
    frame = metrics(configs("gpu"), np.random.default_rng(0), noise=0.2, prior=2)
    vq = frame["prior.kind"] == "vq"
    worse = frame.assign(**{"eval/yardstick/psnr_b": frame["eval/yardstick/psnr_b"] - 2.0 * vq})  # 2 dB > margin
    assert check_claims(worse, RESAMPLES).set_index("claim").loc["T5", "verdict"] == "inconclusive"


def test_the_cpu_protocol_tests_t1_t7_t8_and_reports_the_rest_not_run():
    table = check_claims(metrics(configs("cpu"), np.random.default_rng(0), noise=0.2, n=1, m=1, psnr_n=1), RESAMPLES)
    verdicts = table.set_index("claim")["verdict"].to_dict()
    assert {c: verdicts[c] for c in ("T1", "T7", "T8")} == dict.fromkeys(("T1", "T7", "T8"), "supported")
    assert {verdicts[c] for c in ("T2", "T3", "T4", "T5", "T6")} == {"not run"}
    holm3 = table.set_index("claim").loc["T1"]
    assert holm3["p_holm"] == pytest.approx(min(1.0, 3 * holm3["p"]), rel=1e-9)  # the smallest of 3 p's, x 3


def test_a_design_that_cannot_reach_alpha_says_how_many_replicates_it_needs():
    frame = metrics(configs("cpu"), np.random.default_rng(0), noise=0.01, n=1, m=1, psnr_n=1)
    one = frame[(frame["seed"] == 0) | (frame["task"] == "toy1d")]  # one replicate of the 4-rung ladder
    row = check_claims(one, RESAMPLES).set_index("claim").loc["T1"]
    assert row["p"] == pytest.approx(1 / 24)  # a perfect order of 4 trials: p = 1/4!, raw p < alpha ...
    assert row["verdict"] == "inconclusive" and "needs >= 2 replicates per level" in row["detail"]  # ... not x 3


def _null_rates(scale: str, sweeps: int) -> tuple[dict[str, float], dict[str, float]]:
    """Per claim: the rate of "supported" after Holm, and of a raw one-sided p below alpha, on null sweeps."""
    frame = configs(scale)
    supported, raw = dict.fromkeys(CLAIMS, 0), dict.fromkeys(CLAIMS, 0)
    for seed in range(sweeps):
        tested = findings(metrics(frame, np.random.default_rng(1000 + seed)), RESAMPLES)
        verdicts = table(tested, ALPHA).set_index("claim")["verdict"]
        for f in tested:
            supported[f.claim] += verdicts[f.claim] == "supported"
            raw[f.claim] += f.status == "tested" and f.p_sup < ALPHA
    return {c: v / sweeps for c, v in supported.items()}, {c: v / sweeps for c, v in raw.items()}


@pytest.mark.parametrize("scale", ["cpu", "gpu"])
def test_null_sweeps_are_supported_at_most_alpha_of_the_time(scale):
    sweeps = 200
    supported, raw = _null_rates(scale, sweeps)
    slack = 3 * math.sqrt(ALPHA * (1 - ALPHA) / sweeps)  # three Monte-Carlo standard errors
    assert max(raw.values()) <= ALPHA + slack, raw  # each claim's own test, before any adjustment
    assert max(supported.values()) <= ALPHA + slack, supported
    assert sum(raw.values()) > 0  # the tests do fire on null data now and then: the rates are measured
