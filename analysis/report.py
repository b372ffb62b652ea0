"""Sweep report: ``python analysis/report.py --experiment NAME [--sweep S] [--tracking-uri URI] [--out DIR]``.

Writes ``report.html`` (self-contained: figures embedded, the claims table first), ``report.md``, the figure
PNGs and ``trials.csv`` into ``--out``, and attaches them to the sweep's parent run in MLflow. ``--ray-dir``
reads a Ray experiment directory instead of MLflow (nothing is attached then).
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

import pandas as pd
from matplotlib.figure import Figure
from mlflow.tracking import MlflowClient

from analysis import figures
from analysis.claims import check_claims
from analysis.load import load_mlflow, load_ray
from derain.keys import GAP, UNSEEN_REMOVAL, eval_key
from derain.scales import SMALL_SCALES
from sweeps.results import default_tracking_uri
from sweeps.spaces import REGISTRY

N = "data.num_backgrounds"
ALBU_REMOVAL, EXTREME_REMOVAL = eval_key("albu", "heldout", "removal"), eval_key("extreme", "heldout", "removal")
GROUPS = ("data.source", "model.name", "prior.kind", "rain.train", "noise.train", "data.sharpness_bin")


def _varies(df: pd.DataFrame, key: str) -> bool:
    return key in df and df[key].nunique(dropna=True) > 1


def _group(df: pd.DataFrame) -> str | None:
    return next((g for g in GROUPS if _varies(df, g)), None)


def make_figures(trials: pd.DataFrame, curves: pd.DataFrame) -> dict[str, Figure]:
    """The figures the sweep's data supports, by file stem."""
    out: dict[str, Figure] = {}
    done = trials[trials["status"] == "finished"] if "status" in trials else trials
    rain = done[done[N].notna()] if N in done else done.iloc[0:0]
    toy = done[done["content.terms"].notna()] if "content.terms" in done else done.iloc[0:0]
    if _varies(rain, N):
        out["removal_vs_n"] = figures.removal_vs_n(rain, by=_group(rain))
        out["gap_vs_n"] = figures.gap_vs_n(rain, by=_group(rain))
        out["learning_curves"] = figures.learning_curves(curves[curves["trial_id"].isin(rain["trial_id"])], rain)
    by_key = {
        "data.sharpness_bin": UNSEEN_REMOVAL,
        "rain.train": ALBU_REMOVAL,
        "model.name": UNSEEN_REMOVAL,
        "prior.kind": UNSEEN_REMOVAL,
        "noise.train": UNSEEN_REMOVAL,
    }
    for key, metric in by_key.items():
        if _varies(rain, key) and metric in rain:
            out[f"{metric.replace('/', '_')}_by_{key}"] = figures.metric_by(
                rain, key, metric, N if _varies(rain, N) else None
            )
    if _varies(toy, "content.count") and _varies(toy, "content.terms"):
        for metric in (GAP, EXTREME_REMOVAL):
            out[f"toy1d_{metric.replace('/', '_')}"] = figures.heatmap(toy, "content.count", "content.terms", metric)
    narrow = toy[toy["streaks.train"] == "narrow"] if "streaks.train" in toy else toy
    if _varies(narrow, "content.count"):
        metrics = (UNSEEN_REMOVAL, GAP)
        out["toy1d_vs_m"] = figures.versus(narrow, "content.count", metrics, "content.terms")
    if _varies(toy, "streaks.train"):
        out["toy1d_by_streaks"] = figures.metric_by(toy, "streaks.train", EXTREME_REMOVAL, "content.count")
    objectives = REGISTRY["balance"].objectives  # the trade-off the balance space searches
    if len(rain) >= 4 and all(o in rain for o in objectives):
        out["pareto"] = figures.pareto(rain, *objectives)
        params = [c for c in (N, *GROUPS) if _varies(rain, c)]
        out["importance"] = figures.importance_figure(figures.importances(rain, params, objectives))
    return out


def reading(scale: str | None) -> str:
    """How far this sweep's verdicts go: one paragraph printed under the claims table."""
    text = (
        "supported / contradicted: the statistic is significant (alpha = 0.05) in the claimed / the opposite "
        "direction. inconclusive: too few points or seeds, or not significant - a limit of the data, not "
        "evidence against the claim."
    )
    if scale in SMALL_SCALES:
        text += (
            f" At scale '{scale}' the 2D trials are short (derain/scales.py), so the 2D claims are decided only "
            "as far as that allows; --scale gpu or more seeds (--num-samples) decide more of them."
        )
    return text


def _html(title: str, claims: pd.DataFrame, pngs: dict[str, Path], trials: pd.DataFrame) -> str:
    imgs = "".join(
        f"<h3>{html.escape(name)}</h3><img src='data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}'>"
        for name, p in pngs.items()
    )
    meta = "".join(f"<li>{k}: {html.escape(str(v))}</li>" for k, v in trials.attrs.items())
    runs = trials[[c for c in ("trial_id", "run_id", "status") if c in trials]].to_html(index=False)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}td,th{padding:4px 8px}"
        "img{max-width:100%}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><h2>Claims</h2>{claims.to_html(index=False)}"
        f"<p>{html.escape(reading(trials.attrs.get('scale')))}</p>"
        f"<h2>Sweep</h2><ul>{meta}<li>trials: {len(trials)}</li></ul><h2>Figures</h2>{imgs}"
        f"<h2>Trials (MLflow run ids)</h2>{runs}</body></html>"
    )


def _markdown(title: str, claims: pd.DataFrame, pngs: dict[str, Path], trials: pd.DataFrame) -> str:
    rows = ["| claim | verdict | statistic |", "|---|---|---|"]
    rows += [f"| {r.claim}: {r.statement} | **{r.verdict}** | {r.statistic} |" for r in claims.itertuples()]
    meta = "\n".join(f"- {k}: {v}" for k, v in trials.attrs.items())
    figs = "\n".join(f"![{n}]({p.name})" for n, p in pngs.items())
    note = reading(trials.attrs.get("scale"))
    head = f"# {title}\n\n## Claims\n\n" + "\n".join(rows)
    return f"{head}\n\n{note}\n\n## Sweep\n\n{meta}\n- trials: {len(trials)}\n\n{figs}\n"


def write_report(trials: pd.DataFrame, curves: pd.DataFrame, out: Path) -> dict[str, Path]:
    """Write every report file into ``out``; returns name -> path."""
    out.mkdir(parents=True, exist_ok=True)
    pngs = {}
    for name, fig in make_figures(trials, curves).items():
        pngs[name] = out / f"{name}.png"
        fig.savefig(pngs[name], dpi=110)
    claims = check_claims(trials)
    title = f"derain-sweeps report: {trials.attrs.get('sweep') or 'sweep'}"
    files = {
        "report.html": out / "report.html",
        "report.md": out / "report.md",
        "trials.csv": out / "trials.csv",
        "claims.csv": out / "claims.csv",
    }
    files["report.html"].write_text(_html(title, claims, pngs, trials))
    files["report.md"].write_text(_markdown(title, claims, pngs, trials))
    trials.to_csv(files["trials.csv"], index=False)
    claims.to_csv(files["claims.csv"], index=False)
    return {**files, **{f"{k}.png": v for k, v in pngs.items()}}


def attach(tracking_uri: str, parent_run_id: str, files: dict[str, Path]) -> None:
    client = MlflowClient(tracking_uri)
    for path in files.values():
        client.log_artifact(parent_run_id, str(path), artifact_path="report")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    p = argparse.ArgumentParser(prog="python analysis/report.py", description=__doc__.splitlines()[0])
    p.add_argument("--experiment", help="MLflow experiment (the space name)")
    p.add_argument("--sweep", help="sweep name (default: the newest sweep of the experiment)")
    p.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI, else sqlite:///<cwd>/mlflow.db")
    p.add_argument("--ray-dir", type=Path, help="read this Ray experiment directory instead of MLflow")
    p.add_argument("--out", type=Path, default=Path("report"))
    args = p.parse_args(argv)
    uri = args.tracking_uri or default_tracking_uri()
    try:
        if args.ray_dir:
            trials, curves = load_ray(args.ray_dir)
        elif args.experiment:
            trials, curves = load_mlflow(args.experiment, uri, args.sweep)
        else:
            p.error("pass --experiment (MLflow) or --ray-dir")
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    files = write_report(trials, curves, args.out)
    if not args.ray_dir and trials.attrs.get("parent_run_id"):
        attach(uri, trials.attrs["parent_run_id"], files)
    print(check_claims(trials)[["claim", "verdict", "statistic"]].to_string(index=False))
    print(f"wrote {args.out / 'report.html'} and {len(files) - 1} more files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
