"""The paper's claims as statistical checks on a sweep's trials: supported / contradicted / inconclusive.

Each check picks its trials from the ``trials`` frame (``analysis.load``), computes a statistic with an
uncertainty — Spearman's rho with a two-sided permutation p-value, or a mean paired difference with a
bootstrap 95 % interval — and decides: supported when the effect is significant (p < 0.05, or the interval
excludes 0) in the claimed direction, contradicted when significant the other way, inconclusive otherwise,
including whenever there are too few trials. Never a default pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from derain.degradations import RAIN_LADDER
from derain.keys import GAP, HELDOUT_PSNR, UNSEEN_REMOVAL, eval_key
from derain.toy1d.streaks import STREAK_LADDER as STREAKS

ALPHA = 0.05
N = "data.num_backgrounds"
UNSEEN, PSNR = UNSEEN_REMOVAL, HELDOUT_PSNR
ALBU_REMOVAL, EXTREME_REMOVAL = eval_key("albu", "heldout", "removal"), eval_key("extreme", "heldout", "removal")
M, K = "content.count", "content.terms"  # 1D: number of training functions, their complexity
LADDER = {name: rung for rung, name in enumerate(RAIN_LADDER)}  # rung of each training-rain ladder level
STREAK_LADDER = {name: rung for rung, name in enumerate(STREAKS)}


@dataclass(frozen=True)
class Verdict:
    claim: str  # T1 .. T8
    statement: str
    verdict: str  # supported | contradicted | inconclusive
    statistic: str  # e.g. "rho=-0.83, p=0.002, n=12"
    detail: str = ""


def spearman_test(x: np.ndarray, y: np.ndarray, expected_sign: int, seed: int = 0, permutations: int = 2000):
    """(verdict, rho, p, n): permutation test of Spearman's rho; needs >= 3 distinct x and >= 4 points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    order = np.lexsort((y[keep], x[keep]))  # the same data give the same p whatever the row order
    x, y = x[keep][order], y[keep][order]
    if len(x) < 4 or len(np.unique(x)) < 3 or np.ptp(y) == 0:
        return "inconclusive", float("nan"), float("nan"), len(x)
    rho = float(spearmanr(x, y).statistic)
    rng = np.random.default_rng(seed)
    null = np.array([spearmanr(x, rng.permutation(y)).statistic for _ in range(permutations)])
    p = float((np.sum(np.abs(null) >= abs(rho)) + 1) / (permutations + 1))
    return _decide(p < ALPHA, np.sign(rho) == expected_sign), rho, p, len(x)


def bootstrap_diff(diffs: np.ndarray, expected_sign: int, seed: int = 0, resamples: int = 5000):
    """(verdict, mean, low, high, n) for paired differences; needs >= 3 pairs."""
    d = np.asarray(diffs, float)
    d = d[np.isfinite(d)]
    if len(d) < 3:
        return "inconclusive", float(d.mean()) if len(d) else float("nan"), float("nan"), float("nan"), len(d)
    rng = np.random.default_rng(seed)
    means = rng.choice(d, size=(resamples, len(d)), replace=True).mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    significant = low > 0 or high < 0
    return _decide(significant, np.sign(d.mean()) == expected_sign), float(d.mean()), low, high, len(d)


def _decide(significant: bool, right_direction: bool) -> str:
    if not significant:
        return "inconclusive"
    return "supported" if right_direction else "contradicted"


def _rho(claim: str, statement: str, df: pd.DataFrame, x: str, y: str, sign: int, detail: str = "") -> Verdict:
    if df.empty or x not in df or y not in df:
        return Verdict(claim, statement, "inconclusive", f"no trials with {x} and {y}", detail)
    verdict, rho, p, n = spearman_test(df[x].to_numpy(), df[y].to_numpy(), sign)
    shown = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"  # 2000 permutations: the smallest p is 1/2001
    return Verdict(claim, statement, verdict, f"Spearman rho({x}, {y}) = {rho:.2f}, {shown}, n = {n}", detail)


def _paired(
    claim: str, statement: str, df: pd.DataFrame, arm: str, better: str, worse: str, keys: list[str], metric: str
) -> Verdict:
    """Mean of (metric at arm=better) - (metric at arm=worse), paired on ``keys``, bootstrap CI."""
    have = [k for k in keys if k in df]
    if df.empty or arm not in df or metric not in df:
        return Verdict(claim, statement, "inconclusive", f"no trials with {arm} and {metric}")
    wide = df.pivot_table(index=have or None, columns=arm, values=metric, aggfunc="mean")
    if better not in wide or worse not in wide:
        return Verdict(claim, statement, "inconclusive", f"needs both {arm}={better} and {arm}={worse}")
    verdict, mean, low, high, n = bootstrap_diff((wide[better] - wide[worse]).to_numpy(), +1)
    ci = f"95% CI [{low:.3f}, {high:.3f}]" if np.isfinite(low) else "no CI (needs >= 3 pairs)"
    stat = f"mean {metric}[{better}] - [{worse}] = {mean:.3f}, {ci}, n = {n} pairs"
    return Verdict(claim, statement, verdict, stat)


ABLATIONS = (
    "data.source",
    "data.sharpness_bin",
    "rain.train",
    "noise.train",
    "model.name",
    "model.width",
    "model.depth",
    "prior.kind",
    "degradation",
    "data.eval_source",
)


def ladder(df: pd.DataFrame, x: str) -> pd.DataFrame:
    """The trials that vary only ``x`` (and the seed): the group of equal other ablation settings with the most
    distinct ``x`` values, so a claim about N is not confounded by trials added for other claims."""
    keys = [k for k in (*ABLATIONS, N) if k in df and k != x]  # N too: a ladder over x is read at one N
    if df.empty or not keys:
        return df
    groups = df.assign(**{k: df[k].astype(str) for k in keys}).groupby(keys)
    best = max(groups.groups, key=lambda g: (groups.get_group(g)[x].nunique(), len(groups.get_group(g))))
    return df.loc[groups.get_group(best).index]


def _finished(df: pd.DataFrame, task: str | None = None) -> pd.DataFrame:
    out = df[df["status"] == "finished"] if "status" in df else df
    if task == "toy1d":
        return out[out["content.terms"].notna()] if "content.terms" in out else out.iloc[0:0]
    if task == "derain":
        return out[out[N].notna()] if N in out else out.iloc[0:0]
    return out


def _rain(df: pd.DataFrame) -> pd.DataFrame:
    d = _finished(df, "derain")
    return d[d.get("degradation", "rain") == "rain"] if "degradation" in d else d


def _combine(claim: str, statement: str, parts: list[Verdict]) -> Verdict:
    """Supported if one part is and none contradicts; contradicted if one contradicts and none supports."""
    kinds = {p.verdict for p in parts}
    verdict = (
        "supported"
        if "supported" in kinds and "contradicted" not in kinds
        else "contradicted"
        if "contradicted" in kinds and "supported" not in kinds
        else "inconclusive"
    )
    return Verdict(claim, statement, verdict, "; ".join(p.statistic for p in parts))


def t1(df: pd.DataFrame) -> Verdict:
    d = _rain(df)
    d = ladder(d[d["prior.kind"] == "none"] if "prior.kind" in d else d, N)
    parts = [_rho("T1", "", d, N, UNSEEN, -1), _rho("T1", "", d, N, GAP, +1)]
    return _combine("T1", "more backgrounds => lower unseen-rain removal and/or a larger gap", parts)


def t2(df: pd.DataFrame) -> Verdict:
    d = _rain(df)
    if "data.sharpness_bin" in d and d["data.sharpness_bin"].isin(["low", "high"]).any():
        return _paired(
            "T2",
            "lower sharpness bin => better unseen-rain removal at equal N",
            d,
            "data.sharpness_bin",
            "low",
            "high",
            [N, "seed"],
            UNSEEN,
        )
    return _paired(
        "T2",
        "simpler source => better unseen-rain removal at equal N",
        d,
        "data.source",
        "smooth",
        "textures",
        [N, "seed"],
        UNSEEN,
    )


def t3(df: pd.DataFrame) -> Verdict:
    d = _rain(df)
    groups = [g for g in ("model.name", "model.width", "model.depth") if g in d and d[g].nunique() > 1]
    if not groups:
        return Verdict("T3", "T1 holds for every architecture and width", "inconclusive", "one architecture only")
    parts = [_rho("T3", "", ladder(part, N), N, UNSEEN, -1) for _, part in d.groupby(groups)]
    verdict = (
        "supported"
        if all(p.verdict == "supported" for p in parts)
        else "contradicted"
        if any(p.verdict == "contradicted" for p in parts)
        else "inconclusive"
    )
    stats = "; ".join(f"{k}: {p.statistic}" for k, p in zip(d.groupby(groups).groups, parts, strict=True))
    return Verdict("T3", "T1 holds for every architecture and width tried", verdict, stats)


def t4(df: pd.DataFrame) -> Verdict:
    d = _rain(df)
    if "rain.train" not in d:
        return Verdict("T4", "a wider rain ladder => better removal of rain outside it", "inconclusive", "no ladder")
    d = ladder(d, "rain.train").assign(ladder=lambda f: f["rain.train"].map(LADDER))
    return _rho(
        "T4",
        "a wider training-rain ladder => better removal of rain outside every level",
        d,
        "ladder",
        ALBU_REMOVAL,
        +1,
    )


def t5(df: pd.DataFrame) -> Verdict:
    return _paired(
        "T5",
        "the content prior => better unseen-rain removal at equal N",
        _rain(df),
        "prior.kind",
        "vq",
        "none",
        [N, "seed", "data.source"],
        UNSEEN,
    )


def t6(df: pd.DataFrame) -> Verdict:
    d = _finished(df, "derain")
    d = ladder(d[d["degradation"] == "noise"], N) if "degradation" in d else d.iloc[0:0]
    return _rho(
        "T6", "the denoising analogue shows T1 (more backgrounds => less removal of unseen noise)", d, N, UNSEEN, -1
    )


def t7(df: pd.DataFrame) -> Verdict:
    d = _finished(df, "toy1d")
    if d.empty:
        return Verdict("T7", "the 1D analogue shows T1 and T4", "inconclusive", "no 1D trials")
    high_k = d[d[K] == d[K].max()]
    narrow = high_k[high_k["streaks.train"] == "narrow"]
    # The same two-part test as T1, over the number of training functions M at the highest K.
    shortcut = _combine("T7", "", [_rho("T7", "", narrow, M, UNSEEN, -1), _rho("T7", "", narrow, M, GAP, +1)])
    widest = high_k[high_k[M] == high_k[M].max()]
    widest = widest.assign(ladder=widest["streaks.train"].map(STREAK_LADDER))
    wider = _rho("T7", "", widest, "ladder", EXTREME_REMOVAL, +1)  # outside every ladder level
    verdict = (
        "supported"
        if shortcut.verdict == wider.verdict == "supported"
        else "contradicted"
        if "contradicted" in (shortcut.verdict, wider.verdict)
        else "inconclusive"
    )
    statement = "1D: more functions at high K => less unseen removal and/or a larger gap (T1), wider streaks help (T4)"
    return Verdict("T7", statement, verdict, f"T1 part: {shortcut.statistic}; T4 part: {wider.statistic}")


def t8(df: pd.DataFrame) -> Verdict:
    d = _rain(df)
    d = ladder(d[d["prior.kind"] == "none"] if "prior.kind" in d else d, N)
    return _rho("T8", "held-out background PSNR improves with N", d, N, PSNR, +1)


CLAIMS: dict[str, Callable[[pd.DataFrame], Verdict]] = {
    "T1": t1,
    "T2": t2,
    "T3": t3,
    "T4": t4,
    "T5": t5,
    "T6": t6,
    "T7": t7,
    "T8": t8,
}


def check_claims(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: claim, statement, verdict, statistic, detail."""
    return pd.DataFrame([CLAIMS[c](trials).__dict__ for c in CLAIMS])
