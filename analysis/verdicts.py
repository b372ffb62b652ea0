"""The paper's claims (T1-T8) as pre-declared, calibrated tests on a sweep's trials.

Each claim names one primary statistic on a fixed exam every trial sits (``derain.keys``) and the trials it
reads, picked from the ``trials`` frame of ``analysis.load`` by their config alone. Every ladder claim's primary
is the within-seed trend (``analysis.findings.trend``): the slope of y on log2 N (or the rung) pooled within
replicate seeds and permuted within them, because trials of one seed share their initialisation, batch, rain and
augmentation stream and nested background draws (a common-random-numbers block):

- T1 (2D), T6 (denoising), T7 (1D): the slope of the yardstick gain on log2 N (log2 M), expected negative: more
  content, less removal of unseen degradations.
- T8: the slope of the yardstick background PSNR (pixels the rain left untouched) on log2 N, expected positive.
- T2: within blocks of equal N and seed, the slope over the sharpness bins (low, mid, high) of the gain each
  trial loses from its own rain to the yardstick rain on held-out images of its own bin
  (``eval/own_bin/gain_lost_db``), expected positive: the paired difference on the same images takes out both
  the background shift of a bin's exam and how hard that bin's images are.
- T3: T1 for every architecture / width / depth tried: the largest of their p-values (intersection-union).
- T4: the slope over the rungs of the training-rain ladder of the gain on the ladder's exam ('faint': equally
  far from every rung, ``derain.degradations.EXTRA_EXAMS``), at one N, expected positive.
- T5: this sweep's content prior against no prior, paired on every ablation key; where run, also against the
  same encoder-decoder without quantisation (``ae``), and non-inferior on background PSNR (margin ``MARGIN_DB``).
  A sweep pre-trains one prior (and one autoencoder), so the pairs replicate restorers, not priors: the claim
  is about this prior (n = 1 prior). Replicating it at the prior level would need >= 9 pre-trained priors per
  kind (a sign-flip floor under Holm's alpha / 16), far beyond any protocol's budget.

p-values are one-sided permutation p's (``analysis.stats``), Holm-adjusted over both directions of every claim
the report tests; a claim is supported (contradicted) when its adjusted p for the claimed (opposite) direction
is below ``ALPHA``, so the chance of any verdict on null data is at most alpha. A claim that read a trial short
of its plateau says "not converged". The gap, e_b, the albumentations-rain gain and the effect sizes are
reported beside, descriptive only. A claim whose trials are absent is "not run"; one whose design cannot reach
alpha says how many replicates it needs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from analysis.findings import DESCRIPTIVE, Finding, config_blocks, not_run, paired, table, trend
from analysis.stats import RESAMPLES
from derain.data.banks import BINS
from derain.degradations import LADDER_EXAM, RAIN_LADDER
from derain.keys import OWN_BIN_GAIN_LOST, YARDSTICK_GAIN, YARDSTICK_PSNR_B, eval_key
from derain.toy1d.streaks import STREAK_LADDER

ALPHA = 0.05
MARGIN_DB = 0.5  # T5: the prior may cost at most this much background PSNR and still count as non-inferior
N, M, K = "data.num_backgrounds", "content.count", "content.terms"
GAIN, PSNR_B = YARDSTICK_GAIN, YARDSTICK_PSNR_B
LADDER_GAIN = eval_key(LADDER_EXAM, "heldout", "gain_db")  # T4's exam
PREFERRED_SOURCE = "deadleaves"  # T1/T8 ladders: as many distinct images as N (photos are about 11 images)
ARCH = ("model.name", "model.width", "model.depth")
ABLATIONS = (
    "data.source",
    "data.sharpness_bin",
    "rain.train",
    "noise.train",
    *ARCH,
    "prior.kind",
    "degradation",
    "data.eval_source",
)


def ladder(df: pd.DataFrame, x: str, prefer: dict[str, str] | None = None) -> pd.DataFrame:
    """The trials that vary only ``x`` (and the seed): the group of equal other ablation settings with the most
    distinct ``x`` values (then: matching ``prefer``, then the most trials), so that a claim about N is not
    confounded by trials added for other claims."""
    keys = [k for k in (*ABLATIONS, N) if k in df and k != x]  # N too: a ladder over x is read at one N
    if df.empty or not keys:
        return df
    groups = df.assign(**{k: df[k].map(str) for k in keys}).groupby(keys)  # map: NaN -> "nan", a group

    def rank(name: tuple) -> tuple:
        part = groups.get_group(name)
        liked = all(part[k].iloc[0] == v for k, v in (prefer or {}).items() if k in part)
        return part[x].nunique(), liked, len(part)

    return df.loc[groups.get_group(max(groups.groups, key=rank)).index]


def _finished(df: pd.DataFrame, task: str) -> pd.DataFrame:
    """The finished trials of ``task`` (its name in ``derain.tasks.TASKS``: every trial's params say it)."""
    out = df[df["status"] == "finished"] if "status" in df else df
    return out[out["task"] == task] if "task" in out else out.iloc[0:0]


def _derain(df: pd.DataFrame, degradation: str = "rain", prior: str | None = "none") -> pd.DataFrame:
    d = _finished(df, "derain")
    if "degradation" in d:
        d = d[d["degradation"] == degradation]
    return d[d["prior.kind"] == prior] if prior and "prior.kind" in d else d


def t1(df: pd.DataFrame, resamples: int = RESAMPLES) -> Finding:
    d = ladder(_derain(df), N, {"data.source": PREFERRED_SOURCE})
    return trend("T1", "more training backgrounds => less removal of unseen rain", d, N, GAIN, -1, resamples)


def t2(df: pd.DataFrame, resamples: int = RESAMPLES) -> Finding:
    d = _derain(df)
    d = d[d["data.sharpness_bin"].isin(BINS)] if "data.sharpness_bin" in d else d.iloc[0:0]
    statement = "a lower sharpness bin => less gain lost to unseen rain at equal N (on held-out images of the bin)"
    if d.empty or d["data.sharpness_bin"].nunique() < 2:
        return not_run("T2", statement, "no trials in two or more sharpness bins")
    d = d.assign(bin_rung=d["data.sharpness_bin"].map({b: i for i, b in enumerate(BINS)}))
    blocks = config_blocks(d, "data.sharpness_bin")
    return trend("T2", statement, d, "bin_rung", OWN_BIN_GAIN_LOST, +1, resamples, log2=False, blocks=blocks)


def t3(df: pd.DataFrame, resamples: int = RESAMPLES) -> Finding:
    statement = "T1 holds for every architecture, width and depth tried"
    d = _derain(df)
    if "data.source" in d and (d["data.source"] == PREFERRED_SOURCE).any():
        d = d[d["data.source"] == PREFERRED_SOURCE]
    have = [a for a in ARCH if a in d]
    parts = {name: ladder(part, N) for name, part in d.groupby(have)} if have else {}
    found = {name: trend("T3", "", part, N, GAIN, -1, resamples) for name, part in parts.items()}
    found = {name: f for name, f in found.items() if f.status == "tested"}
    if len(found) < 2:
        return not_run("T3", statement, "fewer than two architectures with an N ladder")
    return Finding.every("T3", statement, found)


def t4(df: pd.DataFrame, resamples: int = RESAMPLES) -> Finding:
    statement = f"a wider training-rain ladder => better removal of '{LADDER_EXAM}' rain (equally far from every rung)"
    d = _derain(df)
    if "rain.train" not in d or d["rain.train"].nunique() < 2:
        return not_run("T4", statement, "no rain ladder")
    d = ladder(d, "rain.train")
    d = d.assign(rung=d["rain.train"].map({name: i for i, name in enumerate(RAIN_LADDER)}))
    return trend("T4", statement, d, "rung", LADDER_GAIN, +1, resamples, log2=False)


def t5(df: pd.DataFrame, resamples: int = RESAMPLES) -> Finding:
    statement = (
        f"this sweep's content prior => better removal of unseen rain than no prior and than an unquantised "
        f"autoencoder, paired on every ablation key, without losing more than {MARGIN_DB} dB of background PSNR"
    )
    d = _derain(df, prior=None)
    if "prior.kind" not in d or not (d["prior.kind"] == "vq").any():
        return not_run("T5", statement, "no trials with the prior")
    keys = [k for k in (N, "seed", *ABLATIONS) if k in d and k != "prior.kind"]
    parts = {"vq - none": paired(d, keys, "prior.kind", "vq", "none", GAIN, 0.0, resamples)}
    if (d["prior.kind"] == "ae").any():
        parts["vq - ae"] = paired(d, keys, "prior.kind", "vq", "ae", GAIN, 0.0, resamples)
    parts["e_b non-inferiority"] = paired(d, keys, "prior.kind", "vq", "none", PSNR_B, MARGIN_DB, resamples)
    ceiling = d.loc[d["prior.kind"] == "vq", "prior/recon_psnr"].mean() if "prior/recon_psnr" in d else np.nan
    detail = "one pre-trained prior per kind: the pairs replicate restorers, not priors"
    detail += f"; the prior's reconstruction ceiling: {ceiling:.2f} dB PSNR" if np.isfinite(ceiling) else ""
    return Finding.combine("T5", statement, parts, detail)


def t6(df: pd.DataFrame, resamples: int = RESAMPLES) -> Finding:
    d = ladder(_derain(df, degradation="noise"), N)
    statement = "denoising: more training backgrounds => less removal of unseen noise"
    if d.empty:
        return not_run("T6", statement, "no denoising trials")
    return trend("T6", statement, d, N, GAIN, -1, resamples)


def t7(df: pd.DataFrame, resamples: int = RESAMPLES) -> Finding:
    statement = "1D: more training functions at the highest complexity => less removal of unseen streaks"
    d = _finished(df, "toy1d")
    if d.empty:
        return not_run("T7", statement, "no 1D trials")
    d = d[(d[K] == d[K].max()) & (d["streaks.train"] == STREAK_LADDER[0])]
    return trend("T7", statement, ladder(d, M), M, GAIN, -1, resamples)


def t8(df: pd.DataFrame, resamples: int = RESAMPLES) -> Finding:
    d = ladder(_derain(df), N, {"data.source": PREFERRED_SOURCE})
    statement = "more training backgrounds => better held-out background PSNR (pixels the rain left untouched)"
    return trend("T8", statement, d, N, PSNR_B, +1, resamples)


CLAIMS: dict[str, Callable[..., Finding]] = {
    "T1": t1,
    "T2": t2,
    "T3": t3,
    "T4": t4,
    "T5": t5,
    "T6": t6,
    "T7": t7,
    "T8": t8,
}
READ = (
    "trial_id", "status", "task", "seed", "plateau", N, M, K, "streaks.train", GAIN, PSNR_B, LADDER_GAIN,
    OWN_BIN_GAIN_LOST, *DESCRIPTIVE, "prior/recon_psnr",
)  # fmt: skip


def findings(trials: pd.DataFrame, resamples: int = RESAMPLES) -> list[Finding]:
    """Every claim's primary test on ``trials`` (unadjusted)."""
    read = [c for c in (*ABLATIONS, *READ) if c in trials]  # the full config has ~100 columns: keep what is read
    frame = trials[read].astype({c: object for c in read if trials[c].dtype == "str"})  # numpy-backed: faster
    return [CLAIMS[c](frame, resamples) for c in CLAIMS]


def check_claims(trials: pd.DataFrame, resamples: int = RESAMPLES, alpha: float = ALPHA) -> pd.DataFrame:
    """One row per claim: claim, statement, verdict, statistic, p, p_holm, effect, secondary, detail."""
    return table(findings(trials, resamples), alpha)
