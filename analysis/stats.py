"""Calibrated tests for the claims: exact (or Monte-Carlo) permutation tests, Holm's adjustment, effect sizes.

Every test is one-sided in a stated direction and returns the p-value of "no effect" against "an effect of
that sign", so a claim can be supported (small p in the claimed direction) or contradicted (small p in the
other) with each rate at most alpha on null data. ``smallest_p`` gives the floor a design allows (the p of a
perfect effect on the same design), and ``replicates_needed`` how many replicates per level bring it under a
threshold: "needs >= k replicates" is computed, never guessed.

Inputs are 1-D arrays of finite floats (NaN rows are dropped by the callers); outputs are plain floats.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import permutation_test, rankdata

RESAMPLES = 9999  # Monte-Carlo permutations when the exact null is larger; p >= 1 / 10000 then


@dataclass(frozen=True)
class TestResult:
    """A one-sided test: ``statistic`` (rho or a mean difference), p for each direction, the design's floor."""

    statistic: float
    p_up: float  # H1: the statistic is > 0
    p_down: float  # H1: the statistic is < 0
    n: int
    floor: float  # the smallest p this design can produce in either direction

    def p(self, sign: int) -> float:
        """p of the alternative with sign ``sign`` (+1 / -1)."""
        return self.p_up if sign > 0 else self.p_down


def _ranks_corr(rx: np.ndarray):
    """Spearman's rho as the Pearson correlation of ``rx`` with the (permuted) ranks of y, vectorised."""
    cx = rx - rx.mean()

    def statistic(ry: np.ndarray, axis: int = -1) -> np.ndarray:
        cy = ry - ry.mean(axis=axis, keepdims=True)
        den = np.sqrt((cx**2).sum() * (cy**2).sum(axis=axis))
        return np.where(den > 0, (cy * cx).sum(axis=axis) / np.where(den > 0, den, 1.0), 0.0)

    return statistic


def _tails(data: tuple, statistic, kind: str, resamples: int, seed: int) -> tuple[float, float]:
    """(p for "greater", p for "less") from one null distribution, with scipy's conventions: exact nulls give
    the fraction at least as extreme, Monte-Carlo nulls (count + 1) / (resamples + 1)."""
    result = permutation_test(
        data,
        statistic,
        permutation_type=kind,
        vectorized=True,
        n_resamples=resamples,
        alternative="greater",
        rng=np.random.default_rng(seed),
    )
    exact = len(result.null_distribution) < resamples
    return _tail_ps(result.null_distribution, float(result.statistic), exact, resamples)


def _tail_ps(null: np.ndarray, observed: float, exact: bool, resamples: int) -> tuple[float, float]:
    tol = 1e-12 * max(1.0, abs(observed))  # ties with the observed value count as at least as extreme
    counts = np.sum(null >= observed - tol), np.sum(null <= observed + tol)
    return tuple(float(c / len(null) if exact else (c + 1) / (resamples + 1)) for c in counts)


@functools.lru_cache(maxsize=256)
def _rank_floor(levels: tuple[float, ...], resamples: int, seed: int) -> float:
    """The smallest one-sided p of the rank test on this design: y ordered exactly as x."""
    rx = np.asarray(levels)
    return _tails((rx,), _ranks_corr(rx), "pairings", resamples, seed)[0]


def rank_test(x, y, resamples: int = RESAMPLES, seed: int = 0) -> TestResult:
    """Spearman's rho of (x, y) with permutation p-values (``permutation_type='pairings'``: y is shuffled
    against x; exact when the permutations number at most ``resamples``). Needs >= 3 points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    rx, ry = rankdata(x), rankdata(y)
    stat = _ranks_corr(rx)
    if len(x) < 3 or np.ptp(rx) == 0:
        return TestResult(float("nan"), 1.0, 1.0, len(x), 1.0)
    rho = float(stat(ry))
    up, down = _tails((ry,), stat, "pairings", resamples, seed)
    return TestResult(rho, up, down, len(x), _rank_floor(tuple(rx), resamples, seed))


def _mean(d: np.ndarray, axis: int = -1) -> np.ndarray:
    return d.mean(axis=axis)


def sign_flip_test(diffs, resamples: int = RESAMPLES, seed: int = 0) -> TestResult:
    """Mean of paired differences with sign-flip p-values (``permutation_type='samples'``; exact for up to
    log2(resamples) pairs). The floor is 2**-n for n pairs (fewer pairs cannot reach small p)."""
    d = np.asarray(diffs, float)
    if len(d) == 0:
        return TestResult(float("nan"), 1.0, 1.0, 0, 1.0)
    up, down = _tails((d,), _mean, "samples", resamples, seed)
    floor = max(0.5 ** len(d), 1.0 / (resamples + 1))
    return TestResult(float(d.mean()), up, down, len(d), floor)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error <= alpha), in the input order; NaN stays NaN."""
    p = np.asarray(pvalues, float)
    keep = np.flatnonzero(np.isfinite(p))
    out = np.full(len(p), np.nan)
    order = keep[np.argsort(p[keep], kind="stable")]
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (len(order) - i) * p[idx]))
        out[idx] = running
    return out.tolist()


def replicates_needed(levels: list[float], threshold: float, paired: bool, most: int = 64) -> int | None:
    """The fewest replicates per level (rank test over ``levels``) or pairs (``paired``) whose best-case p
    is below ``threshold``; None when ``most`` do not suffice."""
    for k in range(1, most + 1):
        if paired:
            floor = 0.5**k
        else:
            x = np.repeat(np.asarray(levels, float), k)
            floor = _rank_floor(tuple(rankdata(x)), RESAMPLES, 0) if len(x) >= 3 else 1.0
        if floor < threshold:
            return k
    return None


def interval(values: np.ndarray, seed: int = 0, resamples: int = 2000) -> tuple[float, float]:
    """Percentile-bootstrap 95 % interval of a mean (descriptive only: verdicts never read it)."""
    v = np.asarray(values, float)
    if len(v) < 2:
        return float("nan"), float("nan")
    means = np.random.default_rng(seed).choice(v, size=(resamples, len(v))).mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def end_difference(x, y, seed: int = 0) -> tuple[float, float, float]:
    """(mean y at the largest x - mean y at the smallest x, 95 % interval): an effect size in y's units."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    top, bottom = y[x == x.max()], y[x == x.min()]
    if len(top) == 0 or len(bottom) == 0:
        return float("nan"), float("nan"), float("nan")
    if len(top) < 2 and len(bottom) < 2:
        return float(top.mean() - bottom.mean()), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = rng.choice(top, (2000, len(top))).mean(1) - rng.choice(bottom, (2000, len(bottom))).mean(1)
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(top.mean() - bottom.mean()), float(low), float(high)


def _block_ranks(blocks: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Ranks of ``v`` within each block, centred on the block's mean rank."""
    out = np.empty(len(v))
    for b in np.unique(blocks):
        idx = np.flatnonzero(blocks == b)
        r = rankdata(v[idx])
        out[idx] = r - r.mean()
    return out


def blocked_rank_test(blocks, x, y, resamples: int = RESAMPLES, seed: int = 0) -> TestResult:
    """Within-block rank association of (x, y): sum over blocks of the covariance of their within-block ranks,
    normalised to [-1, 1]; the null permutes y within each block (exact when the arrangements number at most
    ``resamples``). Pairs are blocks of two, so this is the sign-flip test's rank form for several levels."""
    blocks, x, y = np.asarray(blocks), np.asarray(x, float), np.asarray(y, float)
    rx, ry = _block_ranks(blocks, x), _block_ranks(blocks, y)
    groups = [np.flatnonzero(blocks == b) for b in np.unique(blocks)]
    groups = [g for g in groups if len(g) > 1 and np.ptp(rx[g]) > 0]
    if not groups:
        return TestResult(float("nan"), 1.0, 1.0, len(x), 1.0)
    scale = float(sum(np.sqrt((rx[g] ** 2).sum() * (ry[g] ** 2).sum()) for g in groups)) or 1.0
    # every arrangement of each block's y-ranks and its contribution to the statistic
    options = [
        np.array([(rx[g] * ry[g][list(p)]).sum() for p in itertools.permutations(range(len(g)))]) for g in groups
    ]
    observed = float(sum((rx[g] * ry[g]).sum() for g in groups))
    best = float(sum(o.max() for o in options))
    total = math.prod(len(o) for o in options)
    exact = total <= resamples
    if exact:
        null = functools.reduce(lambda a, o: (a[:, None] + o[None, :]).ravel(), options, np.zeros(1))
    else:
        rng = np.random.default_rng(seed)
        null = sum(o[rng.integers(len(o), size=resamples)] for o in options)
    up, down = _tail_ps(null, observed, exact, resamples)
    floor = _tail_ps(null, best, exact, resamples)[0]
    return TestResult(observed / scale, up, down, len(x), floor)
