"""What a report shows, by kind of sweep, as a list of blocks (heading, paragraph, table, figure).

- ``search`` (a space with sampled axes, e.g. ``balance``): the Pareto front over fully trained trials with
  doing nothing (the identity output) as a point of it, the recommended balance (the knee of the front among
  trials that do not damage the background, with its config), importance from the sweep's persisted Optuna
  study.
- ``claims``: the claims table and how to read it, then the figures.
- ``grid`` (ablation grids): the ladder figures, then the claims the grid can test.

Every kind ends with the trial table: each trial's yardstick gain beside its background error ``e_b``, whether
it reached a plateau, whether it damages the background (``sweeps.results.damages_background``), and the
identity (output = input) and oracle (output = clean) rows for scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd

from analysis import plots
from analysis.load import add_plateaus
from analysis.verdicts import ABLATIONS, ALPHA, check_claims
from derain.config.presets import SMALL_SCALES
from derain.keys import (
    INF_DB,
    REFERENCES,
    UNSEEN_REMOVAL,
    YARDSTICK_E_B,
    YARDSTICK_GAIN,
    YARDSTICK_PSNR_B,
    reference_key,
)
from sweeps.results import damages_background, front_with_identity
from sweeps.spaces import REGISTRY

N = "data.num_backgrounds"
SHOWN = (YARDSTICK_GAIN, YARDSTICK_E_B, YARDSTICK_PSNR_B, UNSEEN_REMOVAL)  # every gain beside its e_b


@dataclass(frozen=True)
class Block:
    kind: str  # h2 | p | table | figure
    content: Any  # text, a DataFrame, or a figure's file stem


def sweep_kind(trials: pd.DataFrame) -> str:
    """'claims', 'search' (sampled axes) or 'grid', from the sweep's space (unknown spaces read as 'grid')."""
    space = REGISTRY.get(trials.attrs.get("space") or "")
    if space is None:
        return "grid"
    if space.name == "claims":
        return "claims"
    return "search" if space.axes(trials.attrs.get("scale") or "cpu").sampled else "grid"


def finished(trials: pd.DataFrame) -> pd.DataFrame:
    """Fully trained trials only (not stopped early, failed or lost)."""
    return trials[trials["status"] == "finished"] if "status" in trials else trials


def swept(trials: pd.DataFrame) -> list[str]:
    """Config keys that differ between the sweep's trials (the seed included)."""
    keys = [k for k in (*ABLATIONS, N, "content.count", "content.terms", "streaks.train", "seed") if k in trials]
    keys += [k for k in trials.columns if "." in k and k not in keys and not k.startswith(("eval/", "ref/"))]
    return [k for k in keys if trials[k].nunique(dropna=True) > 1]


def knee(front: pd.DataFrame, objectives: dict[str, str], candidates: pd.Index | None = None) -> pd.Series:
    """The point of ``candidates`` (default: the whole front) nearest the ideal corner once each objective is
    scaled to [0, 1] over the front."""
    scaled = []
    for metric, mode in objectives.items():
        v = front[metric].astype(float)
        span = (v.max() - v.min()) or 1.0
        scaled.append((v.max() - v) / span if mode == "max" else (v - v.min()) / span)
    distance = np.sqrt(sum(s**2 for s in scaled))
    return front.loc[distance.loc[candidates if candidates is not None else front.index].idxmin()]


def reference_rows(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per reference output and task: the yardstick metrics of identity and oracle outputs."""
    rows = []
    task = trials["task"] if "task" in trials else pd.Series("derain", index=trials.index)
    for name in REFERENCES:
        for t, part in trials.groupby(task):
            values = {m: part[reference_key(name, m)].mean() for m in SHOWN if reference_key(name, m) in part}
            if values:
                note = f"reference (infinite dB logged as {INF_DB:g})"
                rows.append({"trial_id": f"{name} ({t})", "status": note, **values})
    return pd.DataFrame(rows)


def trial_table(trials: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Every trial's swept settings, yardstick numbers, plateau and damage flags, then the reference rows."""
    trials = trials if "plateau" in trials else add_plateaus(trials, curves)
    columns = ["trial_id", "status", *swept(trials), *[m for m in SHOWN if m in trials]]
    yes = {True: "yes", False: "no"}
    table = trials[columns].assign(
        plateau=trials["plateau"].map(yes), damages_background=damages_background(trials).map({True: "yes", False: ""})
    )
    table = table.sort_values([c for c in columns[2:3]] or ["trial_id"])
    return pd.concat([table, reference_rows(trials)], ignore_index=True)


NO_RECOMMENDATION = "No trial on the front beats doing nothing without damaging the background: none is recommended."


def _identity_sentence(identity: pd.Series, metrics: tuple[str, ...]) -> str:
    if not len(identity):
        return ""
    scores = ", ".join(f"{m} {identity[m]:.4g}" for m in metrics)
    return f"Doing nothing (the identity output) scores {scores}: it is a point of every front. "


def recommendation(done: pd.DataFrame, objectives: dict[str, str]) -> tuple[pd.DataFrame, str]:
    """(the Pareto front with doing nothing as a point of it, the recommended-balance paragraph): the knee of
    that front among the trials that do not damage the background; none when every candidate does."""
    metrics, modes = tuple(objectives), tuple(objectives.values())
    front, identity = front_with_identity(done, metrics, modes)
    scored = pd.concat([front, identity.to_frame().T]).astype({m: float for m in metrics}) if len(identity) else front
    text = _identity_sentence(identity, metrics)
    damaged = int(damages_background(done).sum())
    if damaged:
        text += (
            f"{damaged} fully trained trials damage the background (whole-image yardstick error above doing "
            "nothing's) and are never recommended. "
        )
    candidates = front[~damages_background(front)]
    if candidates.empty:
        return scored, text + NO_RECOMMENDATION
    best = knee(scored, objectives, candidates.index)
    config = ", ".join(f"{k}={best[k]}" for k in swept(done) if k != "seed")
    scores = ", ".join(f"{m} {best[m]:.4g}" for m in (*metrics, YARDSTICK_GAIN, YARDSTICK_PSNR_B) if m in best)
    return scored, text + (
        "The front's knee among trials that do not damage the background (nearest the ideal corner, each "
        f"objective scaled over the front, doing nothing included): trial {best['trial_id']}: {config} ({scores})."
    )


def search_blocks(trials: pd.DataFrame, study: optuna.Study | None) -> tuple[list[Block], dict]:
    """Pareto front, recommended balance and importance for a search sweep; (blocks, figures by stem)."""
    space = REGISTRY[trials.attrs["space"]]
    objectives, done = space.objectives, finished(trials).dropna(subset=list(space.objectives))
    blocks, figs = [Block("h2", "Pareto front over fully trained trials")], {}
    if len(done) < 2 or len(objectives) < 2:
        return [*blocks, Block("p", f"{len(done)} fully trained trials: no front to show")], figs
    front, paragraph = recommendation(done, objectives)
    figs["pareto"] = plots.pareto(done, *objectives, front=front)
    blocks += [Block("figure", "pareto"), Block("h2", "Recommended balance"), Block("p", paragraph),
               Block("h2", "What matters")]  # fmt: skip
    if study is None:
        return [*blocks, Block("p", "no Optuna study found for this sweep: importance not computed")], figs
    table, note = plots.importances(study, objectives)
    if len(table):
        figs["importance"] = plots.importance_figure(table)
        blocks.append(Block("figure", "importance"))
    return [*blocks, Block("p", note)], figs


def claims_blocks(trials: pd.DataFrame, only_tested: bool) -> list[Block]:
    table = check_claims(trials)
    if only_tested:
        table = table[table["verdict"] != "not run"]
    if table.empty:
        return []
    return [Block("h2", "Claims"), Block("table", table), Block("p", reading(trials.attrs.get("scale")))]


def reading(scale: str | None) -> str:
    """How to read the claims table: one paragraph."""
    text = (
        f"Each claim has one pre-declared primary statistic on a fixed exam (for the ladder claims: the slope "
        f"of the metric on log2 N within replicate seeds, permuted within seeds). p is its one-sided "
        f"permutation p-value in the direction the data point to; p_holm is Holm-adjusted over both directions "
        f"of every claim tested here, so on data with no effect at all the chance that any claim reads "
        f"supported or contradicted is at most {ALPHA:g}. supported / contradicted: p_holm < {ALPHA:g} in the "
        f"claimed / the opposite direction. inconclusive: not significant after adjustment - a limit of the "
        f"data, not evidence against the claim (the detail says when the design cannot reach significance, and "
        f"how many replicates it needs). not converged: a trial the test read had not reached a plateau. not "
        f"run: the sweep has no trials for it. Effects are within-seed differences between the ladder's ends "
        f"in the metric's units with a t interval; secondary numbers (rho, the gap, e_b, the gain on "
        f"albumentations rain) are descriptive."
    )
    if scale in SMALL_SCALES:
        text += (
            f" At scale '{scale}' trials are short (derain/config/presets.py) and only the claims its protocol names"
            " are run; --scale gpu runs the protocol for the rest."
        )
    return text
