"""Claims and figures on synthetic frames where the truth is known; load + report from real smoke sweeps."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
import ray

from analysis import figures
from analysis.claims import CLAIMS

N = "data.num_backgrounds"


def _frame(effect: float, noise: float = 0.0, seeds: int = 3, ns=(4, 16, 64, 256, 1024), seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(seeds):
        for n in ns:
            unseen = 0.9 + effect * np.log2(n) / 10 + noise * rng.standard_normal()
            rows.append(
                {
                    "trial_id": f"{s}-{n}",
                    "status": "finished",
                    "seed": s,
                    N: n,
                    "degradation": "rain",
                    "data.source": "photos",
                    "eval/unseen/removal": unseen,
                    "eval/seen/removal": 0.95,
                    "eval/gap": 0.95 - unseen,
                    "eval/heldout/psnr": 30 - effect * np.log2(n),
                    "eval/unseen/e_r": 0.1 - effect * np.log2(n) / 100,
                    "eval/yardstick/gain_db": 5 + effect * np.log2(n) + noise * rng.standard_normal(),
                }
            )
    return pd.DataFrame(rows)


def test_figures_render_on_synthetic_frames():
    df = pd.concat([_frame(-0.5), _frame(-0.2).assign(**{"data.source": "textures"})])
    assert len(figures.removal_vs_n(df, by="data.source").axes) == 3
    assert figures.gap_vs_n(df).axes[0].get_xscale() == "log"
    assert figures.metric_by(df, "data.source", "eval/unseen/removal", N).axes
    toy = pd.DataFrame(
        {"content.count": [4, 4, 64, 64], "content.terms": [2, 32, 2, 32], "eval/gap": [0, 0.1, 0.2, 0.5]}
    )
    assert figures.heatmap(toy, "content.count", "content.terms", "eval/gap").axes
    vs_m = figures.versus(toy, "content.count", ("eval/gap",), "content.terms")
    assert vs_m.axes[0].get_xscale() == "log" and len(vs_m.axes[0].lines) >= 2  # a line per K
    ladder = df.assign(**{"rain.train": np.resize(["random", "small+medium", "small"], len(df))})
    ticks = figures.metric_by(ladder, "rain.train", "eval/unseen/removal").axes[0].get_xticklabels()
    assert [t.get_text() for t in ticks] == ["small", "small+medium", "random"]  # ladder order, not alphabetical
    assert figures.pareto(df, "eval/unseen/e_r", "eval/heldout/psnr").axes
    table = figures.importances(df, [N, "data.source"], {"eval/unseen/e_r": "min", "eval/heldout/psnr": "max"})
    assert set(table["param"]) <= {N, "data.source"} and len(table) > 0


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.tables = 0, 0

    def handle_starttag(self, tag, attrs):
        self.images += tag == "img" and dict(attrs).get("src", "").startswith("data:image/png;base64,")
        self.tables += tag == "table"


@pytest.fixture(scope="module")
def smoke_sweep(tmp_path_factory):
    from sweeps.run import main

    folder = tmp_path_factory.mktemp("sweep")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    try:
        assert (
            main(
                [
                    "--space",
                    "backgrounds",
                    "--scale",
                    "smoke",
                    "--storage",
                    str(folder / "ray"),
                    "--tracking-uri",
                    uri,
                    "--name",
                    "bg",
                    "--num-samples",
                    "2",
                ]
            )
            == 0
        )
    finally:
        ray.shutdown()
    return folder, uri


@pytest.mark.slow
def test_load_and_report_from_a_real_sweep(smoke_sweep):
    from analysis.load import load_mlflow, load_ray
    from analysis.report import main as report_main

    folder, uri = smoke_sweep
    trials, curves = load_mlflow("backgrounds", uri, "bg")
    assert len(trials) == 4 and set(trials["status"]) == {"finished"}
    for column in (
        "trial_id",
        "run_id",
        "node",
        N,
        "seed",
        "eval/unseen/removal",
        "eval/gap",
        "train/loss",
        "best/eval/unseen/removal",
    ):
        assert column in trials, column
    assert trials[N].dtype.kind == "i" and set(curves["metric"]) >= {"eval/seen/removal", "eval/unseen/removal"}
    ray_trials, ray_curves = load_ray(folder / "ray" / "bg")
    assert sorted(ray_trials["trial_id"]) == sorted(trials["trial_id"])
    assert {N, "eval/unseen/removal", "status"} <= set(ray_trials) and len(ray_curves) == len(curves)
    for frame in (trials, ray_trials):  # 2 grid points x 2 independent replicates
        assert sorted(frame["replicate"]) == [0, 0, 1, 1] and frame.groupby(N)["replicate"].nunique().tolist() == [2, 2]

    out = folder / "report"
    assert report_main(["--experiment", "backgrounds", "--sweep", "bg", "--tracking-uri", uri, "--out", str(out)]) == 0
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "removal_vs_n.png" in pngs and "learning_curves.png" in pngs
    markdown = (out / "report.md").read_text()
    assert all(f"]({name})" in markdown for name in pngs)
    assert "decided only as far as that allows" in markdown  # a smoke-scale sweep says how far its verdicts go
    parser = _Refs()
    parser.feed((out / "report.html").read_text())
    assert parser.images == len(pngs) and parser.tables >= 2
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    attached = {a.path for a in client.list_artifacts(trials.attrs["parent_run_id"], "report")}
    assert "report/report.html" in attached and "report/trials.csv" in attached


def test_claims_use_the_n_ladder_not_trials_added_for_other_claims():
    ladder_rows = _frame(-0.5, seeds=2, ns=(4, 64, 1024)).assign(**{"rain.train": "small", "model.name": "resnet"})
    other = _frame(+2.0, seeds=2, ns=(64,)).assign(**{"rain.train": "random", "model.name": "resnet"})
    mixed = pd.concat([ladder_rows, other.assign(trial_id=other["trial_id"] + "-r")], ignore_index=True)
    finding = CLAIMS["T1"](mixed, 999)
    assert "n = 6" in finding.statistic and finding.value < -0.9


def test_replicates_count_the_seeds_of_one_config_point():
    from analysis.load import add_replicates

    trials = pd.DataFrame(
        {
            "trial_id": list("abcdef"),
            N: [4, 4, 4, 64, 64, 64],
            "seed": [7, 3, 5, 3, 9, 3],
            "rain.train": ["small"] * 5 + ["random"],
            "eval/unseen/removal": np.linspace(0, 1, 6),  # metrics differ between replicates: not part of the point
        }
    )
    assert add_replicates(trials)["replicate"].tolist() == [2, 0, 1, 0, 1, 0]
