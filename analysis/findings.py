"""One claim's test result (``Finding``), the builders for each kind of design, and the verdict table.

A ``Finding`` holds the primary statistic, its one-sided p for the claimed direction (``p_sup``) and for the
opposite one (``p_con``), the smallest p the design can produce (``floor``), an effect size in the metric's
units with a 95 % interval, descriptive secondaries, and the trials that entered it without reaching a
plateau. ``table`` Holm-adjusts the p's of both directions of every tested claim together (so the chance of
any verdict on null data is at most alpha) and turns them into verdicts; it is the only place verdicts are
decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analysis.stats import TestResult, holm, interval, rank_test, replicates_needed, sign_flip_test, trend_test
from derain.keys import GAP, YARDSTICK_E_B, info

# Shown beside the primary statistic of a claim when the trials have them, never deciding it: the gap, the
# background error, and the gain on albumentations rain (third-party rain, partly inside the training ladder).
DESCRIPTIVE = (GAP, YARDSTICK_E_B, "eval/albu/heldout/gain_db")


@dataclass(frozen=True)
class Finding:
    """One claim's primary test (or the reason it was not run)."""

    claim: str
    statement: str
    status: str = "tested"  # tested | not run
    statistic: str = ""  # the primary statistic in words, with its value
    value: float = float("nan")
    sign: int = 0  # the claimed direction of ``value``
    p_sup: float = float("nan")
    p_con: float = float("nan")
    floor: float = 1.0
    n: int = 0
    effect: str = ""
    secondary: str = ""
    detail: str = ""
    design: tuple = field(default=())  # ("blocks", levels per block) | ("levels", levels) | ("pairs",)
    unconverged: tuple[str, ...] = ()  # trials in the test whose curve had not reached a plateau

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
            unconverged=tuple(t for p in tested for t in p.unconverged),
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
            unconverged=tuple(dict.fromkeys(t for p in parts.values() for t in p.unconverged)),
        )


def _name(key: object) -> str:
    return "/".join(map(str, key)) if isinstance(key, tuple) else str(key)


def not_run(claim: str, statement: str, why: str) -> Finding:
    return Finding(claim, statement, "not run", detail=why)


def _fmt(key: str, value: float) -> str:
    return format(value, info(key).fmt) if np.isfinite(value) else "nan"


def _effect(key: str, what: str, diff: float, low: float, high: float) -> str:
    ci = f" [{_fmt(key, low)}, {_fmt(key, high)}]" if np.isfinite(low) else " (no interval: one pair)"
    return f"Δ {key.removeprefix('eval/')} {what} = {_fmt(key, diff)}{ci}"


def _usable(d: pd.DataFrame, *columns: str) -> pd.DataFrame:
    if d.empty or any(c not in d for c in columns):
        return d.iloc[0:0]
    return d.dropna(subset=list(columns))


def _unconverged(d: pd.DataFrame) -> tuple[str, ...]:
    if "plateau" not in d or "trial_id" not in d:
        return ()
    return tuple(d.loc[~d["plateau"].astype(bool), "trial_id"].astype(str))


def _end_differences(d: pd.DataFrame, x: pd.Series, key: str, blocks: pd.Series) -> np.ndarray:
    """Per block: mean ``key`` at the block's largest x minus at its smallest (blocks holding both ends)."""
    frame = pd.DataFrame({"b": blocks, "x": x, "y": d[key]}).dropna()
    out = []
    for _, part in frame.groupby("b"):
        top, bottom = part[part["x"] == part["x"].max()], part[part["x"] == part["x"].min()]
        if part["x"].nunique() > 1:
            out.append(top["y"].mean() - bottom["y"].mean())
    return np.asarray(out, float)


def _paired_effect(d: pd.DataFrame, x: pd.Series, key: str, blocks: pd.Series, what: str) -> str:
    diffs = _end_differences(d, x, key, blocks)
    return _effect(key, what, float(diffs.mean()) if len(diffs) else np.nan, *interval(diffs))


def _secondaries(
    d: pd.DataFrame, x: str, xs: pd.Series, y: str, blocks: pd.Series, sign: int, what: str, resamples: int
) -> str:
    """Descriptive numbers beside a trend: Spearman's rho unblocked (exact), each descriptive metric's ends."""
    rho = rank_test(xs, d[y].to_numpy(float), resamples)
    parts = [f"rho({x}, {y}) = {rho.statistic:.2f} (unblocked, p {rho.p(sign):.3g})"]
    for key in DESCRIPTIVE:
        if key in d and key != y and d[key].notna().sum() >= 3:
            parts.append(_paired_effect(d, xs, key, blocks, what))
    return "; ".join(parts)


def trend(
    claim: str,
    statement: str,
    d: pd.DataFrame,
    x: str,
    y: str,
    sign: int,
    resamples: int,
    *,
    log2: bool = True,
    blocks: pd.Series | None = None,
) -> Finding:
    """The pre-declared primary of a ladder claim: the within-block linear trend of ``y`` on ``x`` (log2 x for
    counts), blocks = seeds unless given, permuted within blocks (``analysis.stats.trend_test``). The effect is
    the within-block difference between the ladder's ends; Spearman's rho (unblocked) and the descriptive
    metrics are secondaries."""
    d = _usable(d, x, y)
    if len(d) < 3 or d[x].nunique() < 2:
        return not_run(claim, statement, f"needs trials at 2+ values of {x} with {y} (has {len(d)})")
    xs = np.log2(d[x].astype(float)) if log2 else d[x].astype(float)
    blocks = blocks.loc[d.index] if blocks is not None else (d["seed"] if "seed" in d else pd.Series(0, d.index))
    test = trend_test(blocks.to_numpy(), xs.to_numpy(), d[y].to_numpy(float), resamples)
    unit = "doubling" if log2 else "step"
    what = f"({x} {d[x].max():g} vs {d[x].min():g}, within {'seed' if blocks.name == 'seed' else 'block'})"
    per_block = blocks.groupby(blocks).size()
    return Finding.from_test(
        claim,
        statement,
        test,
        sign,
        statistic=f"within-block slope of {y} = {test.statistic:+.3f} per {unit} of {x} "
        f"({blocks.nunique()} blocks, n = {len(d)})",
        effect=_paired_effect(d, xs, y, blocks, what),
        secondary=_secondaries(d, x, xs, y, blocks, sign, what, resamples),
        design=("blocks", int(d.groupby(blocks)[x].nunique().max()), int(per_block.size)),
        unconverged=_unconverged(d),
    )


def config_blocks(d: pd.DataFrame, arm: str) -> pd.Series:
    """Block label of each trial: every config column except ``arm`` (so N, seed, model ... are equal)."""
    keys = [c for c in d.columns if ("." in c and c != arm) or c == "seed"]
    return d[keys].map(str).agg("|".join, axis=1).rename("block")


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
        unconverged=_unconverged(d[d[arm].isin([a, b])]),
    )


def _needs(f: Finding, threshold: float) -> str:
    """How many replicates the design needs for its best-case p to pass ``threshold``."""
    kind = f.design[0] if f.design else "pairs"
    if kind == "blocks":
        k, unit = replicates_needed(f.design[1], threshold, "blocks"), f"blocks of {f.design[1]} levels (seeds)"
    else:
        k, unit = replicates_needed(0, threshold, "pairs"), "pairs"
    return f"the design cannot reach p < {threshold:.2g} (floor {f.floor:.2g}): needs >= {k} {unit}"


def _verdict(f: Finding, p_sup: float, p_con: float, alpha: float) -> str:
    if f.unconverged:  # a trial still moving when it stopped: its number is not the one the claim is about
        return "not converged"
    return "supported" if p_sup < alpha else "contradicted" if p_con < alpha else "inconclusive"


def table(findings: list[Finding], alpha: float) -> pd.DataFrame:
    """The verdicts: Holm across both directions of every tested claim together (2 hypotheses per claim), so
    that on null data "supported or contradicted" comes up for any claim at most alpha of the time. A claim
    that read a trial short of its plateau says "not converged", whatever its p."""
    tested = [f for f in findings if f.status == "tested"]
    adjusted = holm([f.p_sup for f in tested] + [f.p_con for f in tested])
    sup = dict(zip((f.claim for f in tested), adjusted[: len(tested)], strict=True))
    con = dict(zip((f.claim for f in tested), adjusted[len(tested) :], strict=True))
    rows = []
    for f in findings:
        row = {"claim": f.claim, "statement": f.statement, "statistic": f.statistic}
        if f.status != "tested":
            rows.append({**row, "verdict": "not run", "p": np.nan, "p_holm": np.nan, "detail": f.detail})
            continue
        agrees = not (f.value * f.sign < 0)
        p, adjusted_p = (f.p_sup, sup[f.claim]) if agrees else (f.p_con, con[f.claim])
        notes = [f.detail]
        if f.floor * 2 * len(tested) >= alpha:
            notes.append(_needs(f, alpha / (2 * len(tested))))
        if f.unconverged:
            notes.append(f"not at a plateau: {', '.join(f.unconverged)} (train longer before reading a verdict)")
        verdict = _verdict(f, sup[f.claim], con[f.claim], alpha)
        rows.append({**row, "verdict": verdict, "p": p, "p_holm": adjusted_p, "effect": f.effect,
                     "secondary": f.secondary, "detail": "; ".join(filter(None, notes))})  # fmt: skip
    columns = ["claim", "statement", "verdict", "statistic", "p", "p_holm", "effect", "secondary", "detail"]
    return pd.DataFrame(rows).reindex(columns=columns)
