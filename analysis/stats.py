"""Calibrated tests for the claims: exact (or Monte-Carlo) permutation tests, Holm's adjustment, effect sizes.

Every test is one-sided in a stated direction and returns the p-value of "no effect" against "an effect of
that sign", so a claim can be supported (small p in the claimed direction) or contradicted (small p in the
other). Nulls are enumerated exactly whenever they hold at most ``EXACT_LIMIT`` (10!) distinct arrangements,
else drawn ``resamples`` times; either way the p-value does not depend on the order of the rows (rows are put
in a canonical order first). ``floor`` is the smallest p a design allows (the p of a perfect effect on the same
design), and ``replicates_needed`` / ``blocks_needed`` how many replicates bring it under a threshold: "needs
>= k replicates" is computed, never guessed.

Inputs are 1-D arrays of finite floats (NaN rows are dropped by the callers); outputs are plain floats.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import permutation_test, rankdata
from scipy.stats import t as student_t

RESAMPLES = 9999  # Monte-Carlo permutations when the exact null is larger; p >= 1 / 10000 then
EXACT_LIMIT = math.factorial(10)  # enumerate a null of at most this many arrangements (3.6 million)
_CHUNK = 200_000  # arrangements scored at once (bounds memory: 10 floats each)


@dataclass(frozen=True)
class TestResult:
    """A one-sided test: the statistic, p for each direction, the design's floor."""

    statistic: float
    p_up: float  # H1: the statistic is > 0
    p_down: float  # H1: the statistic is < 0
    n: int
    floor: float  # the smallest p this design can produce in either direction

    def p(self, sign: int) -> float:
        """p of the alternative with sign ``sign`` (+1 / -1)."""
        return self.p_up if sign > 0 else self.p_down


NO_TEST = TestResult(float("nan"), 1.0, 1.0, 0, 1.0)


def multinomial(counts: tuple[int, ...]) -> int:
    """The number of distinct arrangements of labels with these multiplicities: n! / prod(c!)."""
    return math.factorial(sum(counts)) // math.prod(math.factorial(c) for c in counts)


@functools.lru_cache(maxsize=16)
def arrangements(counts: tuple[int, ...]) -> np.ndarray:
    """Every distinct assignment of labels 0..L-1 (label i ``counts[i]`` times) to n positions, (A, n) int8,
    read-only (cached: a report tests several claims of the same design).

    Built level by level: the positions of label i are every combination of the positions still free."""
    n = sum(counts)
    rows = np.full((1, n), -1, np.int8)
    for label, c in enumerate(counts):
        free = np.nonzero(rows == -1)[1].reshape(len(rows), -1)
        combos = np.array(list(itertools.combinations(range(free.shape[1]), c)), dtype=np.intp)
        rows = np.repeat(rows, len(combos), axis=0)
        picked = free[:, combos].reshape(len(rows), c)
        rows[np.arange(len(rows))[:, None], picked] = label
    rows.setflags(write=False)
    return rows


def _levels(x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """(distinct values, count of each value)."""
    values, counts = np.unique(x, return_counts=True)
    return values, tuple(int(c) for c in counts)


def _scores(values: np.ndarray, counts: tuple[int, ...], y: np.ndarray) -> np.ndarray:
    """sum_i values[label_i] * y_i for every distinct arrangement of the labels against ``y`` (in order)."""
    out = np.empty(multinomial(counts))
    table = arrangements(counts)
    for i in range(0, len(table), _CHUNK):
        out[i : i + _CHUNK] = values[table[i : i + _CHUNK]] @ y
    return out


def _tail_ps(null: np.ndarray, observed: float, exact: bool, resamples: int) -> tuple[float, float]:
    """(p for "greater", p for "less"): exact nulls give the fraction at least as extreme, Monte-Carlo nulls
    (count + 1) / (resamples + 1); ties with the observed value count as at least as extreme."""
    tol = 1e-9 * max(1.0, abs(observed))
    counts = np.sum(null >= observed - tol), np.sum(null <= observed + tol)
    return tuple(float(c / len(null) if exact else (c + 1) / (resamples + 1)) for c in counts)


def _permuted(y: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` random permutations of ``y``, (resamples, len(y))."""
    return rng.permuted(np.tile(y, (resamples, 1)), axis=1)


def rank_test(x, y, resamples: int = RESAMPLES, seed: int = 0) -> TestResult:
    """Spearman's rho of (x, y), unblocked, with permutation p-values: exact over every distinct arrangement of
    x's ranks against y's when they number at most ``EXACT_LIMIT``. Needs >= 3 points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or np.ptp(x) == 0:
        return NO_TEST
    order = np.lexsort((y, x))  # canonical row order: the Monte-Carlo p does not depend on how rows came in
    rx, ry = rankdata(x[order]), rankdata(y[order])
    cx, cy = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt((cx**2).sum() * (cy**2).sum())
    rho = float(cx @ cy / den) if den > 0 else 0.0
    values, counts = _levels(cx)
    exact = multinomial(counts) <= EXACT_LIMIT
    rng = np.random.default_rng(seed)
    null = _scores(values, counts, cy) if exact else _permuted(cy, resamples, rng) @ cx
    up, down = _tail_ps(null, float(cx @ cy), exact, resamples)
    floor = 1 / multinomial(counts) if exact else 1 / (resamples + 1)
    return TestResult(rho, up, down, len(x), floor)


def trend_test(blocks, x, y, resamples: int = RESAMPLES, seed: int = 0) -> TestResult:
    """The within-block linear trend of y on x: T = sum_b sum_i (x_i - mean_b x)(y_i - mean_b y), reported as the
    pooled within-block slope T / sum_b sum_i (x_i - mean_b x)^2 (y's units per unit of x). The null permutes y
    within each block, so whatever a block shares (a seed's initialisation, batch stream and nested
    backgrounds) cancels; exact when the blocks' arrangements number at most ``EXACT_LIMIT`` in all (each
    block's size is checked before anything is enumerated), else ``resamples`` draws."""
    blocks, x, y = np.asarray(blocks).astype(str), np.asarray(x, float), np.asarray(y, float)
    order = np.lexsort((y, x, blocks))  # canonical row order
    blocks, x, y = blocks[order], x[order], y[order]
    groups = [np.flatnonzero(blocks == b) for b in np.unique(blocks)]
    groups = [g for g in groups if len(g) > 1 and np.ptp(x[g]) > 0]
    if not groups:
        return NO_TEST
    centred = [x[g] - x[g].mean() for g in groups]
    observed = float(sum(c @ y[g] for c, g in zip(centred, groups, strict=True)))
    slope = observed / float(sum((c**2).sum() for c in centred))
    levels = [_levels(c) for c in centred]
    sizes = [multinomial(counts) for _, counts in levels]
    exact = all(s <= EXACT_LIMIT for s in sizes) and math.prod(sizes) <= EXACT_LIMIT
    if exact:
        parts = [_scores(v, counts, y[g]) for (v, counts), g in zip(levels, groups, strict=True)]
        null = functools.reduce(lambda a, o: (a[:, None] + o[None, :]).ravel(), parts, np.zeros(1))
    else:
        rng = np.random.default_rng(seed)
        null = sum(_permuted(y[g], resamples, rng) @ c for c, g in zip(centred, groups, strict=True))
    up, down = _tail_ps(null, observed, exact, resamples)
    floor = 1 / math.prod(sizes) if exact else 1 / (resamples + 1)
    return TestResult(slope, up, down, len(x), floor)


def _mean(d: np.ndarray, axis: int = -1) -> np.ndarray:
    return d.mean(axis=axis)


def sign_flip_test(diffs, resamples: int = RESAMPLES, seed: int = 0) -> TestResult:
    """Mean of paired differences with sign-flip p-values (``permutation_type='samples'``; exact for up to
    log2(resamples) pairs). The floor is 2**-n for n pairs (fewer pairs cannot reach small p)."""
    d = np.sort(np.asarray(diffs, float))  # canonical order: the Monte-Carlo p does not depend on the input's
    if len(d) == 0:
        return NO_TEST
    result = permutation_test(
        (d,), _mean, permutation_type="samples", vectorized=True, n_resamples=resamples, alternative="greater",
        rng=np.random.default_rng(seed),
    )  # fmt: skip
    exact = len(result.null_distribution) <= resamples
    up, down = _tail_ps(result.null_distribution, float(result.statistic), exact, resamples)
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


def replicates_needed(levels: int, threshold: float, design: str, most: int = 64) -> int | None:
    """The fewest replicates whose best-case p is below ``threshold``, or None when ``most`` do not suffice.

    ``design``: 'blocks' (each replicate a block holding every one of ``levels`` distinct levels: floor
    (1 / levels!)^k), 'levels' (unblocked rank test, k trials per level: floor 1 / multinomial) or 'pairs'
    (sign flips: floor 2^-k)."""
    for k in range(1, most + 1):
        if design == "blocks":
            floor = math.factorial(levels) ** -k
        elif design == "levels":
            size = multinomial((k,) * levels)
            floor = 1 / size if size <= EXACT_LIMIT else 1 / (RESAMPLES + 1)
        else:
            floor = 0.5**k
        if floor < threshold:
            return k
    return None


def interval(values, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval of a mean (descriptive only: verdicts never read it); NaN for fewer than 2 values."""
    v = np.asarray(values, float)
    if len(v) < 2:
        return float("nan"), float("nan")
    half = float(student_t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return float(v.mean() - half), float(v.mean() + half)
