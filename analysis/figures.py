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

from derain.data.banks import BINS
from derain.degradations import NOISE_TYPES, RAIN_LADDER
from derain.keys import GAP, SEEN_REMOVAL, UNSEEN_E_R, UNSEEN_REMOVAL, YARDSTICK_E_B, YARDSTICK_E_R, direction
from derain.toy1d.streaks import STREAK_LADDER
from sweeps.results import pareto_mask

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
    return f"{name:g}" if isinstance(name, float) else str(name)


def _lines(ax, df: pd.DataFrame, x: str, y: str, by: str | None, log_x: bool = False, label: str = "") -> None:
    groups = df.groupby(by) if by and by in df else [(label or y, df)]
    for name, part in groups:
        stats = part.groupby(x)[y].agg(["mean", "std", "count"]).reset_index().sort_values(x)
        err = stats["std"].where(stats["count"] > 1)
        ax.errorbar(stats[x], stats["mean"], yerr=err, marker="o", capsize=3, label=f"{label} {_label(name)}".strip())
    if log_x:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(alpha=0.3)


def removal_vs_n(df: pd.DataFrame, by: str = "data.source") -> Figure:
    """Seen and unseen rain removal (and unseen e_r) versus N, log x, one line per ``by`` (the paper's Fig. 4)."""
    return versus(df, N, (UNSEEN_REMOVAL, SEEN_REMOVAL, UNSEEN_E_R), by)


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
    axes[0, 0].legend(fontsize=8, title=by)
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


def learning_curves(curves: pd.DataFrame, trials: pd.DataFrame, by: str = N) -> Figure:
    """Seen vs unseen removal over training steps: does the network learn the rain first?"""
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = trials.set_index("trial_id")[by] if by in trials else pd.Series(dtype=object)
    for metric, style in ((SEEN_REMOVAL, "-"), (UNSEEN_REMOVAL, "--")):
        part = curves[curves["metric"] == metric].assign(group=lambda c: c["trial_id"].map(labels))
        for group, rows in part.groupby("group"):
            mean = rows.groupby("step")["value"].mean()
            ax.plot(mean.index, mean.to_numpy(), style, marker=".", label=f"{metric.split('/')[1]} {by}={group}")
    ax.set_xlabel("training step")
    ax.set_ylabel("removal")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def pareto(df: pd.DataFrame, x: str = YARDSTICK_E_R, y: str = YARDSTICK_E_B) -> Figure:
    """The balance trade-off: every trial, with the Pareto front (over x and y, each in its metric's direction)
    highlighted and labelled by N."""
    done = df.dropna(subset=[x, y])
    front = done[pareto_mask(done, (x, y), (direction(x), direction(y)))].sort_values(x)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(done[x], done[y], c="0.6", label="trials")
    ax.plot(front[x], front[y], "o-", color="C3", label="Pareto front")
    for _, row in front.iterrows():
        if N in row:
            ax.annotate(f"N={row[N]:.0f}", (row[x], row[y]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    better = {"min": "lower", "max": "higher"}
    ax.set_xlabel(f"{x} ({better[direction(x)]} is better)")
    ax.set_ylabel(f"{y} ({better[direction(y)]} is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _distribution(values: pd.Series):
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > 1:
        lo, hi = float(values.min()), float(values.max())
        if pd.api.types.is_integer_dtype(values):
            return optuna.distributions.IntDistribution(int(lo), int(hi), log=lo > 0 and hi / lo >= 16)
        return optuna.distributions.FloatDistribution(lo, hi)
    return optuna.distributions.CategoricalDistribution(sorted(values.astype(str).unique()))


def importances(df: pd.DataFrame, params: list[str], objectives: dict[str, str]) -> pd.DataFrame:
    """Parameter importance per objective (``optuna.importance``, PED-ANOVA) on a study rebuilt from trials."""
    done = df.dropna(subset=list(objectives))
    params = [p for p in params if p in done and done[p].nunique() > 1]
    if len(done) < 4 or not params:
        return pd.DataFrame(columns=["objective", "param", "importance"])
    dists = {p: _distribution(done[p]) for p in params}
    rows = []
    for metric, mode in objectives.items():
        study = optuna.create_study(direction="minimize" if mode == "min" else "maximize")
        for _, row in done.iterrows():
            values = {
                p: (row[p] if not isinstance(d, optuna.distributions.CategoricalDistribution) else str(row[p]))
                for p, d in dists.items()
            }
            study.add_trial(optuna.trial.create_trial(params=values, distributions=dists, value=float(row[metric])))
        evaluator = optuna.importance.PedAnovaImportanceEvaluator()
        scores = optuna.importance.get_param_importances(study, evaluator=evaluator, normalize=True)
        rows += [(metric, p, v) for p, v in scores.items()]
    return pd.DataFrame(rows, columns=["objective", "param", "importance"])


def importance_figure(table: pd.DataFrame) -> Figure:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if len(table):
        wide = table.pivot_table(index="param", columns="objective", values="importance").fillna(0)
        wide.plot.barh(ax=ax)
    ax.set_xlabel("importance (PED-ANOVA, normalised)")
    ax.set_title("what matters for each objective")
    fig.tight_layout()
    return fig
