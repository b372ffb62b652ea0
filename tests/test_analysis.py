"""Claims and figures on synthetic frames where the truth is known; load + report from real smoke sweeps."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
import ray

from analysis import figures
from analysis.claims import CLAIMS, bootstrap_diff, check_claims, spearman_test

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
                }
            )
    return pd.DataFrame(rows)


def test_monotone_effect_is_supported_and_its_reverse_contradicted():
    assert spearman_test(np.arange(10), -np.arange(10.0), -1)[0] == "supported"
    assert spearman_test(np.arange(10), np.arange(10.0), -1)[0] == "contradicted"
    assert CLAIMS["T1"](_frame(-0.5)).verdict == "supported"
    assert CLAIMS["T1"](_frame(+0.5)).verdict == "contradicted"
    assert CLAIMS["T8"](_frame(-0.5)).verdict == "supported"  # psnr rises with N in this frame


def test_permutation_p_does_not_depend_on_row_order():
    frame = _frame(-0.1, noise=0.05)
    shuffled = frame.sample(frac=1.0, random_state=1)
    assert CLAIMS["T1"](frame).statistic == CLAIMS["T1"](shuffled).statistic


def test_noise_and_too_few_points_are_inconclusive():
    assert CLAIMS["T1"](_frame(0.0, noise=0.2)).verdict == "inconclusive"
    assert spearman_test([1, 2], [2.0, 1.0], -1)[0] == "inconclusive"
    assert CLAIMS["T1"](_frame(-0.5, seeds=1, ns=(4, 1024))).verdict == "inconclusive"
    assert bootstrap_diff([0.1, 0.2], +1)[0] == "inconclusive"


def test_paired_differences():
    rng = np.random.default_rng(0)
    assert bootstrap_diff(0.3 + 0.01 * rng.standard_normal(8), +1)[0] == "supported"
    assert bootstrap_diff(-0.3 + 0.01 * rng.standard_normal(8), +1)[0] == "contradicted"
    assert bootstrap_diff(rng.standard_normal(8), +1)[0] == "inconclusive"
    base = _frame(-0.2)
    with_prior = pd.concat(
        [
            base.assign(**{"prior.kind": "none"}),
            base.assign(
                **{
                    "prior.kind": "vq",
                    "eval/unseen/removal": base["eval/unseen/removal"] + 0.1,
                    "trial_id": base["trial_id"] + "-vq",
                }
            ),
        ]
    )
    assert CLAIMS["T5"](with_prior).verdict == "supported"


def _toy_frame(effect: float, ladder: bool = True) -> pd.DataFrame:
    """1D trials: unseen removal falls with M at the highest K by ``effect`` per decade; wider streaks help."""
    rows = []
    for s in range(3):
        for k in (4, 32):
            for m in (1, 16, 256, 4096):
                unseen = 0.95 - (effect if k == 32 else 0.0) * np.log10(m) / 10 + 0.001 * s
                rows.append(
                    {
                        "content.terms": k,
                        "content.count": m,
                        "streaks.train": "narrow",
                        "seed": s,
                        "eval/unseen/removal": unseen,
                        "eval/gap": 0.98 - unseen,
                        "eval/extreme/heldout/removal": 0.9 + 0.001 * s,
                    }
                )
        for level, streaks in enumerate(("narrow+wide", "broad") if ladder else (), start=1):
            rows.append(
                {
                    "content.terms": 32,
                    "content.count": 4096,
                    "streaks.train": streaks,
                    "seed": s,
                    "eval/unseen/removal": 0.97,
                    "eval/gap": 0.0,
                    "eval/extreme/heldout/removal": 0.9 + 0.03 * level + 0.001 * s,
                }
            )
    return pd.DataFrame(rows).assign(status="finished", trial_id=lambda d: [f"t{i}" for i in range(len(d))])


def test_t7_reads_the_m_ladder_at_high_k_and_the_streak_ladder():
    assert CLAIMS["T7"](_toy_frame(0.1)).verdict == "supported"
    assert CLAIMS["T7"](_toy_frame(-0.1)).verdict == "contradicted"
    assert CLAIMS["T7"](_toy_frame(0.1, ladder=False)).verdict == "inconclusive"  # T4 part has one level only
    low_k_only = _toy_frame(0.1)
    assert CLAIMS["T7"](low_k_only[low_k_only["content.terms"] == 4]).verdict == "inconclusive"  # no effect at K=4


def test_claims_without_their_trials_are_inconclusive_never_a_pass():
    table = check_claims(_frame(-0.5))
    assert list(table["claim"]) == list(CLAIMS)
    for claim in ("T2", "T3", "T4", "T5", "T6", "T7"):
        assert table.set_index("claim").loc[claim, "verdict"] == "inconclusive"


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
    verdict = CLAIMS["T1"](mixed)
    assert "n = 6" in verdict.statistic and verdict.verdict == "supported"


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
