"""One claim's test result (``Finding``), the builders for each kind of design, and the verdict table.

A ``Finding`` holds the primary statistic, its one-sided p for the claimed direction (``p_sup``) and for the
opposite one (``p_con``), the smallest p the design can produce (``floor``), an effect size in the metric's
units with a 95 % interval, and descriptive secondaries. ``table`` Holm-adjusts the p's across the tested
claims and turns them into verdicts; it is the only place verdicts are decided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from analysis.stats import (
    TestResult,
    blocked_rank_test,
    end_difference,
    holm,
    interval,
    rank_test,
    replicates_needed,
    sign_flip_test,
)
from derain.keys import GAP, YARDSTICK_E_B, info

DESCRIPTIVE = (GAP, YARDSTICK_E_B)  # shown beside every claim's primary statistic, never decide it


@dataclass(frozen=True)
class Finding:
    """One claim's primary test (or the reason it was not run)."""

    claim: str
    statement: str
    status: str = "tested"  # tested | not run
    statistic: str = ""  # the primary statistic, e.g. "rho(data.num_backgrounds, eval/yardstick/gain_db) = -0.8"
    value: float = float("nan")
    sign: int = 0  # the claimed direction of ``value``
    p_sup: float = float("nan")
    p_con: float = float("nan")
    floor: float = 1.0
    n: int = 0
    effect: str = ""
    secondary: str = ""
    detail: str = ""
    design: tuple = field(default=())  # ("levels", x levels) | ("pairs",) | ("blocks", block size)

    @classmethod
    def from_test(cls, claim: str, statement: str, test: TestResult, sign: int, **text: object) -> Finding:
        return cls(claim, statement, "tested", value=test.statistic, sign=sign, p_sup=test.p(sign),
                   p_con=test.p(-sign), floor=test.floor, n=test.n, **text)  # fmt: skip

    @classmethod
    def every(cls, claim: str, statement: str, parts: dict[object, Finding]) -> Finding:
        """Supported only if every part is (intersection-union: the largest p); contradicted if any part is
        (Bonferroni over the parts)."""
        tested = list(parts.values())
        return cls(
            claim,
            statement,
            statistic="; ".join(f"{_name(k)}: {p.statistic}" for k, p in parts.items()),
            value=min(p.value * p.sign for p in tested) * tested[0].sign,
            sign=tested[0].sign,
            p_sup=max(p.p_sup for p in tested),
            p_con=min(1.0, len(tested) * min(p.p_con for p in tested)),
            floor=max(p.floor for p in tested),
            n=sum(p.n for p in tested),
            effect="; ".join(f"{_name(k)}: {p.effect}" for k, p in parts.items()),
            design=tested[0].design,
        )

    @classmethod
    def combine(cls, claim: str, statement: str, parts: dict[str, Finding], detail: str = "") -> Finding:
        """Supported only if every part is (the largest p); contradicted by the first (primary) part alone."""
        missing = [k for k, p in parts.items() if p.status != "tested"]
        if missing:
            return not_run(claim, statement, f"{missing[0]}: {parts[missing[0]].detail}")
        first = next(iter(parts.values()))
        return replace(
            first,
            claim=claim,
            statement=statement,
            statistic="; ".join(f"{k}: {p.statistic}" for k, p in parts.items()),
            p_sup=max(p.p_sup for p in parts.values()),
            floor=max(p.floor for p in parts.values()),
            detail=detail,
        )


def _name(key: object) -> str:
    return "/".join(map(str, key)) if isinstance(key, tuple) else str(key)


def not_run(claim: str, statement: str, why: str) -> Finding:
    return Finding(claim, statement, "not run", detail=why)


def _fmt(key: str, value: float) -> str:
    return format(value, info(key).fmt) if np.isfinite(value) else "nan"


def _effect(key: str, what: str, diff: float, low: float, high: float) -> str:
    ci = f" [{_fmt(key, low)}, {_fmt(key, high)}]" if np.isfinite(low) else " (no interval: one trial per end)"
    return f"Δ {key.rsplit('/', 1)[-1]} {what} = {_fmt(key, diff)}{ci}"


def _usable(d: pd.DataFrame, *columns: str) -> pd.DataFrame:
    if d.empty or any(c not in d for c in columns):
        return d.iloc[0:0]
    return d.dropna(subset=list(columns))


def ranked(claim: str, statement: str, d: pd.DataFrame, x: str, y: str, sign: int, resamples: int) -> Finding:
    """Spearman's rho of (x, y) across independent trials; effect = mean y at the top minus the bottom x."""
    d = _usable(d, x, y)
    if len(d) < 3 or d[x].nunique() < 2:
        return not_run(claim, statement, f"needs trials at 2+ values of {x} with {y} (has {len(d)})")
    xs, ys = d[x].to_numpy(float), d[y].to_numpy(float)
    what = f"({x} {xs.max():g} vs {xs.min():g})"
    secondary = []
    for key in DESCRIPTIVE:
        if key in d and d[key].notna().sum() >= 3 and key != y:
            part = d.dropna(subset=[key])
            rho = spearmanr(part[x], part[key]).statistic
            diff = end_difference(part[x].to_numpy(float), part[key].to_numpy(float))
            secondary.append(f"rho({x}, {key}) = {rho:.2f}, " + _effect(key, what, *diff))
    test = rank_test(xs, ys, resamples)  # its statistic is Spearman's rho: not computed a second time
    return Finding.from_test(
        claim,
        statement,
        test,
        sign,
        statistic=f"rho({x}, {y}) = {test.statistic:.2f}, n = {len(d)}",
        effect=_effect(y, what, *end_difference(xs, ys)),
        secondary="; ".join(secondary),
        design=("levels", tuple(sorted(set(xs)))),
    )


def _blocks(d: pd.DataFrame, arm: str) -> pd.Series:
    """Block label of each trial: every config column except ``arm`` (so N, seed, model ... are equal)."""
    keys = [c for c in d.columns if ("." in c and c != arm) or c == "seed"]
    return d[keys].map(str).agg("|".join, axis=1)


def blocked(
    claim: str, statement: str, d: pd.DataFrame, arm: str, x: str, y: str, sign: int, resamples: int
) -> Finding:
    """Rank association of (x, y) within blocks of trials equal but for the config key ``arm`` (``x`` is its
    numeric rung; e.g. the sharpness bins at one N and seed)."""
    d = _usable(d, x, y)
    blocks = _blocks(d, arm)
    if d.empty or blocks.nunique() == len(d):
        return not_run(claim, statement, f"needs trials that differ only in {arm}")
    top, bottom = d[x] == d[x].max(), d[x] == d[x].min()
    what = f"({x} {d[x].max():g} - {d[x].min():g}, paired)"

    def end_effect(key: str) -> str:  # mean (top - bottom) within blocks, with its interval
        diffs = (d[top].set_index(blocks[top])[key] - d[bottom].set_index(blocks[bottom])[key]).dropna()
        return _effect(key, what, float(diffs.mean()), *interval(diffs.to_numpy()))

    effect = end_effect(y)
    secondary = end_effect(YARDSTICK_E_B) if YARDSTICK_E_B in d else ""
    test = blocked_rank_test(blocks.to_numpy(), d[x].to_numpy(float), d[y].to_numpy(float), resamples)
    text = f"within-block rank association ({x}, {y}) = {test.statistic:.2f}, {blocks.nunique()} blocks, n = {len(d)}"
    size = int(blocks.value_counts().max())
    return Finding.from_test(claim, statement, test, sign, statistic=text, effect=effect, secondary=secondary,
                             design=("blocks", size))  # fmt: skip


def paired(
    d: pd.DataFrame, keys: list[str], arm: str, a: str, b: str, y: str, margin: float, resamples: int
) -> Finding:
    """Sign-flip test of (y at arm=a) - (y at arm=b) + margin over pairs equal on ``keys``; claimed > 0."""
    wide = d.pivot_table(index=keys, columns=arm, values=y, aggfunc="mean") if y in d else pd.DataFrame()
    if a not in wide or b not in wide:
        return not_run("", "", f"needs trials with {arm}={a} and {arm}={b} and {y}")
    diffs = (wide[a] - wide[b]).dropna()
    if diffs.empty:
        return not_run("", "", f"no pair of {arm}={a} and {arm}={b} equal on {', '.join(keys)}")
    shifted = f" + {margin:g} (margin)" if margin else ""
    return Finding.from_test(
        "",
        "",
        sign_flip_test(diffs.to_numpy() + margin, resamples),
        +1,
        statistic=f"mean {y}[{a}] - [{b}]{shifted} = {diffs.mean() + margin:.3f}, n = {len(diffs)} pairs",
        effect=_effect(y, f"({a} - {b})", float(diffs.mean()), *interval(diffs.to_numpy())),
        design=("pairs",),
    )


def _needs(f: Finding, threshold: float) -> str:
    """How many replicates the design needs for its best-case p to pass ``threshold``."""
    kind = f.design[0] if f.design else ""
    if kind == "levels":
        k = replicates_needed(list(f.design[1]), threshold, paired=False)
        unit = "replicates per level"
    elif kind == "blocks":
        k = next((k for k in range(1, 65) if math.factorial(f.design[1]) ** -k < threshold), None)
        unit = "blocks (N x replicate)"
    else:
        k, unit = replicates_needed([], threshold, paired=True), "pairs"
    return f"the design cannot reach p < {threshold:.2g} (floor {f.floor:.2g}): needs >= {k} {unit}"


def table(findings: list[Finding], alpha: float) -> pd.DataFrame:
    """The verdicts: Holm across the tested claims, separately for each direction."""
    tested = [f for f in findings if f.status == "tested"]
    sup = dict(zip((f.claim for f in tested), holm([f.p_sup for f in tested]), strict=True))
    con = dict(zip((f.claim for f in tested), holm([f.p_con for f in tested]), strict=True))
    rows = []
    for f in findings:
        row = {"claim": f.claim, "statement": f.statement, "statistic": f.statistic}
        if f.status != "tested":
            rows.append({**row, "verdict": "not run", "p": np.nan, "p_holm": np.nan, "detail": f.detail})
            continue
        agrees = not (f.value * f.sign < 0)
        p, adjusted = (f.p_sup, sup[f.claim]) if agrees else (f.p_con, con[f.claim])
        verdict = "supported" if sup[f.claim] < alpha else "contradicted" if con[f.claim] < alpha else "inconclusive"
        detail = f.detail
        if f.floor * len(tested) >= alpha:
            detail = "; ".join(filter(None, (detail, _needs(f, alpha / len(tested)))))
        rows.append({**row, "verdict": verdict, "p": p, "p_holm": adjusted, "effect": f.effect,
                     "secondary": f.secondary, "detail": detail})  # fmt: skip
    columns = ["claim", "statement", "verdict", "statistic", "p", "p_holm", "effect", "secondary", "detail"]
    return pd.DataFrame(rows).reindex(columns=columns)
