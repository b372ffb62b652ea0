"""End-of-sweep terminal summary: the Pareto set (multi-objective) or the best trials (single metric), with
doing nothing (the identity output) as a row of its own and the trials that damage the background flagged."""

from __future__ import annotations

import pandas as pd

from derain.keys import TRAIN_STEP
from sweeps.results import IDENTITY, damages_background, front_with_identity, identity_values
from sweeps.spaces.base import Space


def _own_task(df: pd.DataFrame, task: str) -> tuple[pd.DataFrame, int]:
    """(the trials of the space's own task, how many others): a space whose explicit points mix tasks (the
    claims space's 1D trials) must not rank trials that sat different exams against each other. Tune's frame
    flattens a point into ``config/point/<key>`` columns; a frame built by hand may hold ``config/point`` dicts."""
    if "config/point/task" in df:
        tasks = df["config/point/task"].fillna(task)
    elif "config/point" in df:
        tasks = df["config/point"].map(lambda p: p.get("task", task) if isinstance(p, dict) else task)
    else:
        return df, 0
    return df[tasks == task], int((tasks != task).sum())


def summary_table(
    df: pd.DataFrame, space: Space, axes: list[str], final_step: int = 0, top: int = 10
) -> tuple[str, pd.DataFrame]:
    """(title, rows) for the final table over fully trained trials only: those that reached ``final_step``.

    ``df`` has one row per trial with ``config/<axis>`` columns and its last reported metrics.
    """
    df, other = _own_task(df, space.task)
    have = [m for m in space.objectives if m in df.columns]
    lost = int(df[TRAIN_STEP].isna().sum()) if TRAIN_STEP in df else 0  # no result at all reached the driver
    modes = tuple(space.objectives[m] for m in have)
    done = df.dropna(subset=have) if have else df.iloc[0:0]
    if "diverged_step" in done.columns:
        done = done[done["diverged_step"].isna()]
    stopped = int((done[TRAIN_STEP] < final_step).sum()) if TRAIN_STEP in done else 0
    done = done[done[TRAIN_STEP] >= final_step] if TRAIN_STEP in done else done
    cols = [f"config/{a}" for a in axes if f"config/{a}" in done.columns]
    extra = [c for c in space.columns if c in done.columns and c not in have]
    if done.empty:
        return "no fully trained trial reported the sweep's metric", done
    of = f"{len(done)} fully trained trials" + (f"; {stopped} stopped early, left out" if stopped else "")
    of += f"; {other} trials of another task sit another exam, left out" if other else ""
    of += f"; {lost} trials whose result was lost (see MLflow or report --ray-dir)" if lost else ""
    if space.multi_objective:
        rows = front_with_identity(done, tuple(have), modes)[0].sort_values(have[0])
        objectives = ", ".join(f"{m} ({mode})" for m, mode in zip(have, modes, strict=False))
        title = f"Pareto set ({len(rows)} of {of}; doing nothing is a point of it): {objectives}"
    else:
        rows = done.sort_values(have[0], ascending=modes[0] == "min").head(top)
        title = f"best {len(rows)} of {of} by {have[0]} ({modes[0]})"
    flagged = damages_background(rows)
    rows = rows[["trial_id", *cols, *have, *extra]].assign(damages_background=flagged.map({True: "yes", False: ""}))
    reference = identity_values(done, tuple(c for c in (*have, *extra) if c in done))
    if reference:  # the bar every trial is read against, under them
        blank = dict.fromkeys([*cols, "damages_background"], "")  # no config: it is not a trial
        rows = pd.concat([rows, pd.DataFrame([{"trial_id": IDENTITY, **blank, **reference}])], ignore_index=True)
    if flagged.any():
        title += f"; {int(flagged.sum())} damage the background (worse than doing nothing on the whole image)"
    return title, rows.rename(columns=lambda c: c.removeprefix("config/"))
