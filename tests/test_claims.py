"""Claims: exact statistics, every verdict of every claim on sweeps of the protocols' own shape, calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from claims_frames import configs, metrics

from analysis.findings import table
from analysis.stats import (
    EXACT_LIMIT,
    arrangements,
    holm,
    multinomial,
    rank_test,
    replicates_needed,
    sign_flip_test,
    trend_test,
)
from analysis.verdicts import ALPHA, CLAIMS, check_claims, findings

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


def test_arrangements_enumerate_every_distinct_assignment():
    table = arrangements((2, 1, 1))
    assert table.shape == (12, 4) and len({r.tobytes() for r in table}) == 12 == multinomial((2, 1, 1))
    assert all(sorted(r.tolist()) == [0, 0, 1, 2] for r in table)


def test_rank_test_is_exact_for_small_designs():
    x = np.repeat([4, 64, 1024], 2)
    result = rank_test(x, -np.log(x) + [0, 0.01, 0, 0.01, 0, 0.01])
    assert result.p_down == pytest.approx(1 / 90) and result.floor == pytest.approx(1 / 90)  # 6! / 2!^3 arrangements
    assert result.p_up == 1.0 and result.statistic < -0.9
    assert replicates_needed(3, ALPHA / 8, "levels") == 3  # 2 replicates (floor 1/90) cannot pass 0.05 / 8


@pytest.mark.parametrize("shape", [(4, 2), (4, 3), (10, 1), (6, 2)])
def test_rank_test_p_does_not_depend_on_row_order(shape):
    """Exact where the arrangements number at most 10! (8 trials at 4 x 2: 2520; 10 distinct: 10!), a canonical
    row order for Monte-Carlo draws (6 x 2: 7.5e6 arrangements): shuffled rows give the same p either way."""
    levels, reps = shape
    rng = np.random.default_rng(0)
    x = np.repeat(2.0 ** np.arange(levels), reps)
    y = -0.3 * np.log2(x) + rng.standard_normal(len(x))
    first = rank_test(x, y)
    order = rng.permutation(len(x))
    again = rank_test(x[order], y[order])
    assert (first.p_up, first.p_down, first.statistic) == (again.p_up, again.p_down, again.statistic)
    exact = multinomial((reps,) * levels) <= EXACT_LIMIT
    assert first.floor == pytest.approx(1 / multinomial((reps,) * levels) if exact else 1 / 10_000)


def test_trend_test_is_the_pooled_within_seed_slope_and_ignores_seed_offsets():
    seeds, x = np.repeat(np.arange(3), 4), np.tile(np.log2([4, 32, 256, 2048]), 3)
    y = -0.5 * x + 0.01 * np.sin(np.arange(12))
    plain = trend_test(seeds, x, y)
    shifted = trend_test(seeds, x, y + np.repeat([0.0, 5.0, -3.0], 4))  # each seed's offset cancels
    assert plain.statistic == pytest.approx(-0.5, abs=0.01) and shifted.statistic == pytest.approx(plain.statistic)
    assert plain.p_down == pytest.approx(24**-3) == shifted.p_down == plain.floor  # 4! arrangements per seed, exact
    assert plain.p_up == 1.0
    order = np.random.default_rng(1).permutation(12)
    assert trend_test(seeds[order], x[order], y[order]).p_down == plain.p_down


def test_trend_test_checks_block_sizes_before_enumerating():
    """A block of 12 trials (12! arrangements) is drawn, not enumerated (enumerating it would take minutes)."""
    x = np.arange(12.0)
    result = trend_test(np.zeros(12), x, x + 0.01 * np.cos(x), resamples=999)
    assert result.floor == pytest.approx(1 / 1000) and result.p_up == pytest.approx(1 / 1000)
    y = x + np.cos(x)
    shuffled = np.random.default_rng(2).permutation(12)
    assert (
        trend_test(np.zeros(12), x[shuffled], y[shuffled], resamples=999).p_up
        == trend_test(np.zeros(12), x, y, resamples=999).p_up
    )  # the same draws whatever the row order


def test_a_blocked_design_states_how_many_seeds_it_needs():
    assert replicates_needed(4, ALPHA / 6, "blocks") == 2  # one seed of 4 levels: floor 1/24 > 0.0083
    assert (
        replicates_needed(3, ALPHA / 16, "blocks") == 4
    )  # 3 bins per block: 1/6^3 > 0.0031 > 1/6^4 (T2: 2 N x 2 seeds)


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
    first = table.set_index("claim").loc["T1"]
    assert first["p"] == pytest.approx(24**-3)  # 3 seeds, each in the one order of 4! that fits best
    assert first["p_holm"] == pytest.approx(6 * first["p"], rel=1e-9)  # the smallest of 2 x 3 p's, x 6


def test_a_design_that_cannot_reach_alpha_says_how_many_replicates_it_needs():
    frame = metrics(configs("cpu"), np.random.default_rng(0), noise=0.01, n=1, m=1, psnr_n=1)
    derain = frame["task"] == "derain"
    one = frame[~derain | (frame["seed"] == frame.loc[derain, "seed"].min())]  # one seed of the 4-rung ladder
    row = check_claims(one, RESAMPLES).set_index("claim").loc["T1"]
    assert row["p"] == pytest.approx(1 / 24)  # a perfect order of 4 trials: p = 1/4!, raw p < alpha ...
    assert row["verdict"] == "inconclusive" and "needs >= 2 blocks of 4 levels (seeds)" in row["detail"]  # ... / 6


def test_seed_offsets_do_not_hide_a_trend():
    """Replicates that differ by whole dB (the seed's shared offset) leave the within-seed trend readable."""
    frame = metrics(configs("cpu"), np.random.default_rng(3), noise=0.1, seed_sd=3.0, n=0.5, m=0.5, psnr_n=0.5)
    verdicts = check_claims(frame, RESAMPLES).set_index("claim")["verdict"]
    assert (verdicts[["T1", "T7", "T8"]] == "supported").all()


def test_a_claim_that_read_a_trial_short_of_its_plateau_says_not_converged():
    frame = metrics(configs("cpu"), np.random.default_rng(0), noise=0.2, n=1, m=1, psnr_n=1)
    frame.loc[frame.index[0], "plateau"] = False  # the first 2D trial was still moving
    row = check_claims(frame, RESAMPLES).set_index("claim").loc["T1"]
    assert row["verdict"] == "not converged" and frame["trial_id"].iloc[0] in row["detail"]
    assert check_claims(frame, RESAMPLES).set_index("claim").loc["T7", "verdict"] == "supported"  # 1D: all flat


def _null_rates(scale: str, sweeps: int) -> tuple[dict[str, float], dict[str, float]]:
    """Per claim: the rate of any verdict (supported or contradicted, after Holm over both directions) on null
    sweeps with seed offsets, and the largest rate of a raw one-sided p below alpha (either direction)."""
    frame = configs(scale)
    decided, raw = dict.fromkeys(CLAIMS, 0), dict.fromkeys(CLAIMS, 0)
    for seed in range(sweeps):
        tested = findings(metrics(frame, np.random.default_rng(1000 + seed)), RESAMPLES)
        verdicts = table(tested, ALPHA).set_index("claim")["verdict"]
        for f in tested:
            decided[f.claim] += verdicts[f.claim] in ("supported", "contradicted")
            raw[f.claim] += f.status == "tested" and min(f.p_sup, f.p_con) < ALPHA / 2
    return {c: v / sweeps for c, v in decided.items()}, {c: v / sweeps for c, v in raw.items()}


@pytest.mark.parametrize("scale", ["cpu", "gpu"])
def test_null_sweeps_reach_any_verdict_at_most_alpha_of_the_time(scale):
    sweeps = 200
    decided, raw = _null_rates(scale, sweeps)
    slack = 3 * math.sqrt(ALPHA * (1 - ALPHA) / sweeps)  # three Monte-Carlo standard errors
    assert max(raw.values()) <= ALPHA + slack, raw  # each claim's own two-sided test at alpha, unadjusted
    assert max(decided.values()) <= ALPHA + slack, decided  # supported or contradicted, after Holm
    assert sum(raw.values()) > 0  # the tests do fire on null data now and then: the rates are measured
