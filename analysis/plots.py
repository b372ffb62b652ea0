"""Paper-style figures from the ``trials`` / ``curves`` frames of ``analysis.load``: pure functions -> Figure.

Every line plot averages trials that share x and group (seeds) and draws ±1 standard deviation error bars
where there are several. Metric names are the sweep's metric keys.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import optuna
import pandas as pd
from matplotlib.figure import Figure

from analysis.load import plateaus
from analysis.verdicts import ABLATIONS
from derain.data.banks import BINS
from derain.degradations import NOISE_TYPES, RAIN_LADDER
from derain.keys import GAP, SEEN_REMOVAL, UNSEEN_REMOVAL, YARDSTICK_E_B, YARDSTICK_E_R, YARDSTICK_GAIN, direction
from derain.toy1d.streaks import STREAK_LADDER
from sweeps.results import IDENTITY, damages_background, pareto_mask

N = "data.num_backgrounds"
# Categorical axes in their meaningful order (alphabetical order would put 'random' first on the rain ladder
# and 'high' before 'low'); values not listed follow, sorted.
ORDER = {
    "rain.train": list(RAIN_LADDER),
    "streaks.train": list(STREAK_LADDER),
    "data.sharpness_bin": list(BINS),
    "noise.train": list(NOISE_TYPES),
}


def category_order(key: str, values: pd.Series) -> list[str]:
    """The distinct values of a categorical axis as strings, in ORDER[key] first, then sorted."""
    present = set(values.dropna().astype(str))
    known = [v for v in ORDER.get(key, []) if v in present]
    return known + sorted(present - set(known))


def _label(name) -> str:
    if isinstance(name, tuple):
        return " ".join(map(_label, name))
    return f"{name:g}" if isinstance(name, float) else str(name)


def held_keys(df: pd.DataFrame, x: str, by: str | None = None) -> list[str]:
    """Config keys that vary in ``df`` besides ``x`` (and the seed): a line may only join trials equal on them,
    so each becomes part of the line's identity (``by`` first)."""
    keys = [k for k in (*ABLATIONS, N, "content.terms", "streaks.train") if k in df and k != x]
    varying = [k for k in keys if df[k].nunique(dropna=True) > 1]
    return ([by] if by in df else []) + [k for k in varying if k != by]


def _lines(ax, df: pd.DataFrame, x: str, y: str, by: str | None, log_x: bool = False, label: str = "") -> None:
    """One line per combination of the held keys: seeds are averaged (±1 SD), nothing else is."""
    keys = held_keys(df, x, by)
    groups = df.groupby(keys if len(keys) > 1 else keys[0], dropna=False) if keys else [(label or y, df)]
    for name, part in groups:
        stats = part.groupby(x)[y].agg(["mean", "std", "count"]).reset_index().sort_values(x)
        err = stats["std"].where(stats["count"] > 1)
        ax.errorbar(stats[x], stats["mean"], yerr=err, marker="o", capsize=3, label=f"{label} {_label(name)}".strip())
    if log_x:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(alpha=0.3)


def removal_vs_n(df: pd.DataFrame, by: str | None = "data.source") -> Figure:
    """The yardstick gain with its background error e_b beside it, and unseen / seen removal, versus N (log x);
    one line per ``by`` and per other varying setting (the paper's Fig. 4)."""
    return versus(df, N, (YARDSTICK_GAIN, YARDSTICK_E_B, UNSEEN_REMOVAL, SEEN_REMOVAL), by)


def gap_vs_n(df: pd.DataFrame, by: str = "data.source") -> Figure:
    fig, ax = plt.subplots(figsize=(6, 4))
    _lines(ax, df, N, GAP, by, log_x=True)
    ax.set_title("generalization gap: seen minus unseen removal")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def metric_by(
    df: pd.DataFrame, x: str, metric: str, by: str | None = None, log_x: bool = False, title: str = ""
) -> Figure:
    """Generic line figure: sharpness bins, rain ladder, capacity, prior vs none, noise ranges, ..."""
    fig, ax = plt.subplots(figsize=(6, 4))
    categorical = not pd.api.types.is_numeric_dtype(df[x])
    order = category_order(x, df[x]) if categorical else []
    data = df.assign(**{x: df[x].astype(str).map({v: i for i, v in enumerate(order)})}) if categorical else df
    _lines(ax, data, x, metric, by, log_x=log_x and not categorical)
    if categorical:
        ax.set_xticks(range(len(order)), order)
    ax.set_title(title or f"{metric} by {x}")
    if by:
        ax.legend(fontsize=8, title=by)
    fig.tight_layout()
    return fig


def versus(df: pd.DataFrame, x: str, metrics: tuple[str, ...], by: str | None = None, log_x: bool = True) -> Figure:
    """One panel per metric against a numeric ``x`` (e.g. the 1D gap and unseen removal over M, a line per K)."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        if metric in df:
            _lines(ax, df, x, metric, by, log_x=log_x)
        ax.set_title(metric)
    axes[0, 0].legend(fontsize=8, title=" / ".join(held_keys(df, x, by)) or None)
    fig.tight_layout()
    return fig


def heatmap(df: pd.DataFrame, x: str, y: str, metric: str) -> Figure:
    """Mean ``metric`` over the (x, y) grid (toy1d: content.count x content.terms)."""
    table = df.pivot_table(index=y, columns=x, values=metric, aggfunc="mean").sort_index()
    fig, ax = plt.subplots(figsize=(6, 4))
    image = ax.imshow(table.to_numpy(), cmap="viridis", aspect="auto", origin="lower")
    ax.set_xticks(range(len(table.columns)), [str(c) for c in table.columns])
    ax.set_yticks(range(len(table.index)), [str(i) for i in table.index])
    for (i, j), value in np.ndenumerate(table.to_numpy()):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="w", fontsize=8)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(metric)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig


def learning_curves(curves: pd.DataFrame, trials: pd.DataFrame, by: str = N, metric: str = YARDSTICK_GAIN) -> Figure:
    """``metric`` over training steps, one line per trial (coloured by ``by``); trials whose last evaluation
    still moved by more than ``PLATEAU`` of their range are dashed: they had not reached a plateau."""
    fig, ax = plt.subplots(figsize=(7, 4))
    part = curves[curves["metric"] == metric]
    flat = plateaus(curves, metric)
    labels = trials.set_index("trial_id")[by] if by in trials else pd.Series(dtype=object)
    colours = {v: f"C{i}" for i, v in enumerate(sorted(labels.dropna().unique()))}
    for trial, rows in part.groupby("trial_id"):
        rows = rows.sort_values("step")
        style = "-" if flat.get(trial, True) else "--"
        group = labels.get(trial)
        ax.plot(rows["step"], rows["value"], style, marker=".", color=colours.get(group, "0.5"), alpha=0.8)
    for group, colour in colours.items():
        ax.plot([], [], color=colour, label=f"{by}={_label(group)}")
    ax.plot([], [], "k--", label="no plateau yet")
    ax.set_xlabel("training step")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def pareto(
    df: pd.DataFrame, x: str = YARDSTICK_E_R, y: str = YARDSTICK_E_B, front: pd.DataFrame | None = None
) -> Figure:
    """The balance trade-off: every trial, the Pareto front (over x and y, each in its metric's direction;
    ``front`` when given, e.g. with doing nothing as a point of it) highlighted and labelled by N, doing nothing
    as a star, and the trials that damage the background crossed out."""
    done = df.dropna(subset=[x, y])
    if front is None:
        front = done[pareto_mask(done, (x, y), (direction(x), direction(y)))]
    front = front.sort_values(x)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(done[x], done[y], c="0.6", label="trials")
    harm = done[damages_background(done)]
    if len(harm):
        ax.scatter(harm[x], harm[y], marker="x", c="C1", label="damages the background")
    ax.plot(front[x], front[y], "o-", color="C3", label="Pareto front")
    nothing = front[front["trial_id"] == IDENTITY] if "trial_id" in front else front.iloc[0:0]
    if len(nothing):
        ax.scatter(nothing[x], nothing[y], marker="*", s=160, c="k", zorder=3, label=IDENTITY)
    for _, row in front.iterrows():
        if N in row and pd.notna(row[N]):
            ax.annotate(f"N={row[N]:.0f}", (row[x], row[y]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    better = {"min": "lower", "max": "higher"}
    ax.set_xlabel(f"{x} ({better[direction(x)]} is better)")
    ax.set_ylabel(f"{y} ({better[direction(y)]} is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


FANOVA_MIN_TRIALS = 20  # fANOVA fits a random forest over the trials: fewer than this, its ranking is noise


def importances(study: optuna.Study, objectives: dict[str, str]) -> tuple[pd.DataFrame, str]:
    """(objective, param, importance) rows from the sweep's persisted Optuna study by fANOVA
    (``optuna.importance``), and a one-line note; no rows when the study has too few complete trials."""
    done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if len(done) < FANOVA_MIN_TRIALS:
        note = f"{len(done)} complete trials: too few for fANOVA importance (needs >= {FANOVA_MIN_TRIALS})"
        return pd.DataFrame(columns=["objective", "param", "importance"]), note
    rows = []
    for i, metric in enumerate(objectives):
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        scores = optuna.importance.get_param_importances(
            study, evaluator=evaluator, target=lambda t, i=i: t.values[i], normalize=True
        )
        rows += [(metric, p, v) for p, v in scores.items()]
    note = f"fANOVA over {len(done)} complete trials of the Optuna study"
    return pd.DataFrame(rows, columns=["objective", "param", "importance"]), note


def importance_figure(table: pd.DataFrame) -> Figure:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if len(table):
        wide = table.pivot_table(index="param", columns="objective", values="importance").fillna(0)
        wide.plot.barh(ax=ax)
    ax.set_xlabel("importance (fANOVA, normalised)")
    ax.set_title("what matters for each objective")
    fig.tight_layout()
    return fig
