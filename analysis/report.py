"""Sweep report: ``python analysis/report.py --experiment NAME [--sweep S] [--tracking-uri URI] [--out DIR]``.

Writes ``report.html`` (self-contained, figures embedded; what leads depends on the kind of sweep, see
``analysis/sections.py``), ``report.md``, the figure PNGs, ``trials.csv`` and ``claims.csv`` into ``--out``,
and attaches them to the sweep's parent run in MLflow. ``--ray-dir`` reads a Ray experiment directory
instead of MLflow (nothing is attached then).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: don't let analysis/*.py shadow top-level modules
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import base64
import html
import logging
import os

import matplotlib.pyplot as plt
import numpy as np
import optuna
import pandas as pd
from matplotlib.figure import Figure
from mlflow.tracking import MlflowClient

from analysis import plots
from analysis.load import load_mlflow, load_ray
from analysis.sections import Block, claims_blocks, finished, search_blocks, sweep_kind, trial_table
from analysis.verdicts import LADDER_GAIN, check_claims
from derain.cli.common import fail, setup_logging
from derain.errors import DerainError, one_line, redact
from derain.keys import GAP, UNSEEN_REMOVAL, YARDSTICK_E_B, YARDSTICK_GAIN
from sweeps.preflight import check_tracking
from sweeps.results import default_tracking_uri, sqlite_path

log = logging.getLogger(__name__)

N = "data.num_backgrounds"
GROUPS = ("data.source", "model.name", "prior.kind", "rain.train", "noise.train", "data.sharpness_bin")
BY_KEY = {  # ablation axis -> the metric its figure shows (every line joins trials that differ only in it)
    "data.sharpness_bin": YARDSTICK_GAIN,
    "rain.train": LADDER_GAIN,  # the exam equally far from every rung of the ladder
    "model.name": YARDSTICK_GAIN,
    "prior.kind": YARDSTICK_GAIN,
    "noise.train": YARDSTICK_GAIN,
}


def _varies(df: pd.DataFrame, key: str) -> bool:
    return key in df and df[key].nunique(dropna=True) > 1


def _group(df: pd.DataFrame) -> str | None:
    return next((g for g in GROUPS if _varies(df, g)), None)


def ladder_figures(trials: pd.DataFrame, curves: pd.DataFrame) -> dict[str, Figure]:
    """The ladder figures the sweep's fully trained trials support, by file stem."""
    out: dict[str, Figure] = {}
    done = finished(trials)
    rain = done[done[N].notna()] if N in done else done.iloc[0:0]
    toy = done[done["content.terms"].notna()] if "content.terms" in done else done.iloc[0:0]
    if _varies(rain, N):
        out["gain_vs_n"] = plots.removal_vs_n(rain, by=_group(rain))
        if GAP in rain:
            out["gap_vs_n"] = plots.gap_vs_n(rain, by=_group(rain))
    if len(curves) and len(rain):
        out["learning_curves"] = plots.learning_curves(curves[curves["trial_id"].isin(rain["trial_id"])], rain)
    for key, metric in BY_KEY.items():
        if _varies(rain, key) and metric in rain:
            x_by = N if _varies(rain, N) else None
            out[f"{metric.replace('/', '_')}_by_{key}"] = plots.metric_by(rain, key, metric, x_by)
    if _varies(toy, "content.count") and _varies(toy, "content.terms"):
        for metric in (GAP, YARDSTICK_GAIN):
            out[f"toy1d_{metric.replace('/', '_')}"] = plots.heatmap(toy, "content.count", "content.terms", metric)
    narrow = toy[toy["streaks.train"] == "narrow"] if "streaks.train" in toy else toy
    if _varies(narrow, "content.count"):
        metrics = (YARDSTICK_GAIN, YARDSTICK_E_B, UNSEEN_REMOVAL, GAP)
        out["toy1d_vs_m"] = plots.versus(narrow, "content.count", metrics, "content.terms")
    if _varies(toy, "streaks.train"):
        out["toy1d_by_streaks"] = plots.metric_by(toy, "streaks.train", YARDSTICK_GAIN, "content.count")
    return out


def _study(trials: pd.DataFrame) -> optuna.Study | None:
    """The sweep's Optuna study, or None (with a warning) when it cannot be opened: the report still has
    every trial from MLflow or Ray, only the study's importances are missing."""
    storage, name = trials.attrs.get("study_storage"), trials.attrs.get("sweep")
    if not storage or not name:
        return None
    if ":***@" in storage:  # as MLflow keeps it: redact() took the password out
        log.warning("the Optuna study's URL is stored without its password; pass --optuna-storage to read it")
        return None
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except Exception as err:  # noqa: BLE001 - a missing study, a refused login, a server down: all said alike
        log.warning("the Optuna study %s could not be opened: %s", redact(storage), one_line(err))
        return None


def report_blocks(trials: pd.DataFrame, curves: pd.DataFrame) -> tuple[list[Block], dict[str, Figure]]:
    """The report's content in order, by kind of sweep, and its figures by file stem."""
    kind, blocks = sweep_kind(trials), []
    figs: dict[str, Figure] = {}
    if kind == "search":
        blocks, figs = search_blocks(trials, _study(trials))
    elif kind == "claims":
        blocks = claims_blocks(trials, only_tested=False)
    ladders = ladder_figures(trials, curves)
    if ladders:
        blocks += [Block("h2", "Figures"), *[Block("figure", name) for name in ladders]]
    if kind == "grid":
        blocks += claims_blocks(trials, only_tested=True)
    meta = redact("; ".join(f"{k}: {v}" for k, v in trials.attrs.items() if v))  # the report is shared
    blocks += [
        Block("h2", "Trials"),
        Block("p", f"{meta}; {len(trials)} trials"),
        Block("table", trial_table(trials, curves)),
    ]
    return blocks, {**figs, **ladders}


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if np.isnan(value) else f"{value:.4g}"
    return str(value)


def _html(title: str, blocks: list[Block], pngs: dict[str, Path]) -> str:
    parts = [f"<h1>{html.escape(title)}</h1>"]
    for b in blocks:
        if b.kind == "figure":
            data = base64.b64encode(pngs[b.content].read_bytes()).decode()
            parts.append(f"<h3>{html.escape(b.content)}</h3><img alt='{b.content}' src='data:image/png;base64,{data}'>")
        elif b.kind == "table":
            parts.append(b.content.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}"))
        else:
            parts.append(f"<{b.kind}>{html.escape(str(b.content))}</{b.kind}>")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}td,th{padding:4px 8px;text-align:left}"
        "img{max-width:100%}</style></head><body>" + "".join(parts) + "</body></html>"
    )


def _markdown(title: str, blocks: list[Block], pngs: dict[str, Path]) -> str:
    parts = [f"# {title}"]
    for b in blocks:
        if b.kind == "figure":
            parts.append(f"![{b.content}]({pngs[b.content].name})")
        elif b.kind == "table":
            head = "| " + " | ".join(b.content.columns) + " |"
            rows = [
                "| " + " | ".join(_cell(v).replace("|", "/") for v in row) + " |"
                for row in b.content.itertuples(index=False)
            ]
            parts.append("\n".join([head, "|" + "---|" * len(b.content.columns), *rows]))
        else:
            parts.append(f"## {b.content}" if b.kind == "h2" else str(b.content))
    return "\n\n".join(parts) + "\n"


def write_report(trials: pd.DataFrame, curves: pd.DataFrame, out: Path) -> dict[str, Path]:
    """Write every report file into ``out``; returns name -> path."""
    out.mkdir(parents=True, exist_ok=True)
    blocks, figs = report_blocks(trials, curves)
    pngs = {}
    for name, fig in figs.items():
        pngs[name] = out / f"{name}.png"
        fig.savefig(pngs[name], dpi=110)
        plt.close(fig)  # pyplot keeps every figure it made until closed: a long session would pile them up
    title = f"derain-sweeps report: {trials.attrs.get('sweep') or 'sweep'}"
    files = {name: out / name for name in ("report.html", "report.md", "trials.csv", "claims.csv")}
    files["report.html"].write_text(_html(title, blocks, pngs))
    files["report.md"].write_text(_markdown(title, blocks, pngs))
    trials.to_csv(files["trials.csv"], index=False)
    check_claims(trials).to_csv(files["claims.csv"], index=False)
    return {**files, **{f"{k}.png": v for k, v in pngs.items()}}


def attach(tracking_uri: str, parent_run_id: str, files: dict[str, Path]) -> None:
    client = MlflowClient(tracking_uri)
    for path in files.values():
        client.log_artifact(parent_run_id, str(path), artifact_path="report")


def _check_out(out: Path) -> None:
    """The report folder can be written (made later, only once the sweep has been read); DerainError otherwise."""
    existing = next(p for p in (out.resolve(), *out.resolve().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise DerainError(f"--out {out}: cannot write there ('{existing}' is not a writable folder)")


def _check_store(uri: str) -> None:
    """A sqlite store must exist and be a database: the report never creates one, and a damaged one is named."""
    path = sqlite_path(uri)
    if path and not path.is_file():
        raise DerainError(f"tracking URI {uri}: no database at '{path}' (pass --tracking-uri, or --ray-dir)")
    check_tracking(uri)


def main(argv: list[str] | None = None) -> int:
    setup_logging(-1)  # a report prints its own lines; the libraries' and ours only when they warn
    p = argparse.ArgumentParser(prog="python analysis/report.py", description=__doc__.splitlines()[0])
    p.add_argument("--experiment", help="MLflow experiment (the space name)")
    p.add_argument("--sweep", help="sweep name (default: the newest sweep of the experiment)")
    p.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI, else sqlite:///<cwd>/mlflow.db")
    p.add_argument("--ray-dir", type=Path, help="read this Ray experiment directory instead of MLflow")
    p.add_argument("--out", type=Path, default=Path("report"))
    p.add_argument(
        "--optuna-storage", help="the study's RDB URL (default: the sweep's, as stored; give it when it has a password)"
    )
    args = p.parse_args(argv)
    uri = args.tracking_uri or default_tracking_uri()
    if not args.ray_dir and not args.experiment:
        p.error("pass --experiment (MLflow) or --ray-dir")
    try:
        _check_out(args.out)
        if args.ray_dir:
            trials, curves = load_ray(args.ray_dir)
        else:
            _check_store(uri)  # analysis only reads: never create a store where a path was mistyped
            trials, curves = load_mlflow(args.experiment, uri, args.sweep)
    except (DerainError, ValueError, FileNotFoundError) as err:
        return fail(err)
    if args.optuna_storage:
        trials.attrs["study_storage"] = args.optuna_storage
    try:
        files = write_report(trials, curves, args.out)
    except OSError as err:  # root passes access() checks on /proc and read-only mounts: the write itself tells
        return fail(DerainError(f"--out {args.out}: cannot write there ({err.strerror or err})"))
    if not args.ray_dir and trials.attrs.get("parent_run_id"):
        attach(uri, trials.attrs["parent_run_id"], files)
    claims = check_claims(trials)
    tested = claims if sweep_kind(trials) == "claims" else claims[claims["verdict"] != "not run"]
    if len(tested):
        print(tested[["claim", "verdict", "p", "p_holm", "statistic"]].to_string(index=False))
    print(f"wrote {args.out / 'report.html'} and {len(files) - 1} more files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
