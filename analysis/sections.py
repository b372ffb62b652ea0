"""What a report shows, by kind of sweep, as a list of blocks (heading, paragraph, table, figure).

- ``search`` (a space with sampled axes, e.g. ``balance``): the Pareto front over fully trained trials, the
  recommended balance (the front's knee, with its config), importance from the sweep's persisted Optuna study.
- ``claims``: the claims table and how to read it, then the figures.
- ``grid`` (ablation grids): the ladder figures, then the claims the grid can test.

Every kind ends with the trial table: each trial's yardstick gain beside its background error ``e_b``, whether
it reached a plateau, and the identity (output = input) and oracle (output = clean) rows for scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd

from analysis import figures
from analysis.claims import ABLATIONS, check_claims
from derain.keys import REFERENCES, UNSEEN_REMOVAL, YARDSTICK_E_B, YARDSTICK_GAIN, YARDSTICK_PSNR_B, reference_key
from derain.scales import SMALL_SCALES
from sweeps.results import pareto_mask
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


def knee(front: pd.DataFrame, objectives: dict[str, str]) -> pd.Series:
    """The front's point nearest the ideal corner once each objective is scaled to [0, 1] over the front."""
    scaled = []
    for metric, mode in objectives.items():
        v = front[metric].astype(float)
        span = (v.max() - v.min()) or 1.0
        scaled.append((v.max() - v) / span if mode == "max" else (v - v.min()) / span)
    distance = np.sqrt(sum(s**2 for s in scaled))
    return front.loc[distance.idxmin()]


def reference_rows(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per reference output and task: the yardstick metrics of identity and oracle outputs."""
    rows = []
    task = trials["task"] if "task" in trials else pd.Series("derain", index=trials.index)
    for name in REFERENCES:
        for t, part in trials.groupby(task):
            values = {m: part[reference_key(name, m)].mean() for m in SHOWN if reference_key(name, m) in part}
            if values:
                note = "reference (infinite dB logged as 100)" if name == "oracle" else "reference"
                rows.append({"trial_id": f"{name} ({t})", "status": note, **values})
    return pd.DataFrame(rows)


def trial_table(trials: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Every trial's swept settings, yardstick numbers, and plateau flag, then the reference rows."""
    flat = figures.plateaus(curves, YARDSTICK_GAIN) if len(curves) else {}
    columns = ["trial_id", "status", *swept(trials), *[m for m in SHOWN if m in trials]]
    table = trials[columns].assign(plateau=trials["trial_id"].map(lambda t: "yes" if flat.get(t, True) else "no"))
    table = table.sort_values([c for c in columns[2:3]] or ["trial_id"])
    return pd.concat([table, reference_rows(trials)], ignore_index=True)


def search_blocks(trials: pd.DataFrame, study: optuna.Study | None) -> tuple[list[Block], dict]:
    """Pareto front, recommended balance and importance for a search sweep; (blocks, figures by stem)."""
    space = REGISTRY[trials.attrs["space"]]
    objectives, done = space.objectives, finished(trials).dropna(subset=list(space.objectives))
    blocks, figs = [Block("h2", "Pareto front over fully trained trials")], {}
    if len(done) < 2 or len(objectives) < 2:
        return [*blocks, Block("p", f"{len(done)} fully trained trials: no front to show")], figs
    figs["pareto"] = figures.pareto(done, *objectives)
    front = done[pareto_mask(done, tuple(objectives), tuple(objectives.values()))]
    best = knee(front, objectives)
    config = ", ".join(f"{k}={best[k]}" for k in swept(done) if k != "seed")
    scores = ", ".join(f"{m} {best[m]:.4g}" for m in objectives)
    blocks += [Block("figure", "pareto"), Block("h2", "Recommended balance"),
               Block("p", f"The front's knee (nearest the ideal corner, each objective scaled over the front): "
                          f"trial {best['trial_id']}: {config} ({scores})."),
               Block("h2", "What matters")]  # fmt: skip
    if study is None:
        return [*blocks, Block("p", "no Optuna study found for this sweep: importance not computed")], figs
    table, note = figures.importances(study, objectives)
    if len(table):
        figs["importance"] = figures.importance_figure(table)
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
        "Each claim has one pre-declared primary statistic on the yardstick. p is its one-sided permutation "
        "p-value in the direction the data point to; p_holm is Holm-adjusted across the claims tested here. "
        "supported / contradicted: p_holm < 0.05 in the claimed / the opposite direction. inconclusive: not "
        "significant after adjustment - a limit of the data, not evidence against the claim (the detail says "
        "when the design cannot reach significance, and how many replicates it needs). not run: the sweep has "
        "no trials for it. Effects are in the metric's units with a bootstrap 95 % interval; secondary numbers "
        "(the gap, e_b) are descriptive."
    )
    if scale in SMALL_SCALES:
        text += (
            f" At scale '{scale}' trials are short (derain/scales.py) and only the claims its protocol names are "
            "run; --scale gpu runs the protocol for the rest."
        )
    return text
