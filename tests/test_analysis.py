"""Claims and figures on synthetic frames where the truth is known; load + report from real smoke sweeps."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
import ray

from analysis import plots
from analysis.load import plateaus
from analysis.verdicts import CLAIMS

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
                    "task": "derain",  # as the loaders give it (every trial's params name its task)
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


def _line_data(ax) -> list[tuple[list[float], list[float]]]:
    """(x, y) of every errorbar line (the data line of each container; caps and bars are not lines of data)."""
    return [(list(c.lines[0].get_xdata()), list(c.lines[0].get_ydata())) for c in ax.containers]


def test_lines_join_only_trials_that_differ_in_the_figures_axis():
    photos, textures = _frame(-0.5), _frame(-0.2).assign(**{"data.source": "textures"})
    binned = _frame(+0.5).assign(**{"data.sharpness_bin": "low"})
    df = pd.concat(
        [photos.assign(**{"data.sharpness_bin": "all"}), textures.assign(**{"data.sharpness_bin": "all"}), binned]
    )
    fig = plots.removal_vs_n(df, by="data.source")
    gain, e_b = fig.axes[0], fig.axes[1]
    assert gain.get_title() == "eval/yardstick/gain_db" and e_b.get_title() == "eval/yardstick/e_b"  # e_b beside
    lines = _line_data(gain)
    assert len(lines) == 3  # photos/all, photos/low, textures/all: the bin is never averaged into a source line
    expected = photos.groupby(N)["eval/yardstick/gain_db"].mean()
    assert ([4, 16, 64, 256, 1024], expected.tolist()) in [(x, pytest.approx(y)) for x, y in lines]
    assert gain.get_xscale() == "log"


def test_pareto_figure_draws_the_front():
    from sweeps.results import pareto_mask

    df = pd.DataFrame(
        {"eval/yardstick/e_r": [0.1, 0.2, 0.3, 0.15], "eval/yardstick/e_b": [0.3, 0.1, 0.2, 0.4], N: [4, 64, 16, 8]}
    )
    fig = plots.pareto(df, "eval/yardstick/e_r", "eval/yardstick/e_b")
    front = df[pareto_mask(df, ("eval/yardstick/e_r", "eval/yardstick/e_b"), ("min", "min"))].sort_values(
        "eval/yardstick/e_r"
    )
    drawn = [line for line in fig.axes[0].get_lines() if line.get_label() == "Pareto front"]
    assert len(drawn) == 1 and list(drawn[0].get_xdata()) == front["eval/yardstick/e_r"].tolist() == [0.1, 0.2]
    assert {t.get_text() for t in fig.axes[0].texts} == {"N=4", "N=64"}


def test_learning_curves_mark_trials_without_a_plateau():
    """The flag reads the trend over the last half of the evaluations, not the last step: a noisy flat tail is
    a plateau, a tail still climbing beyond its noise is not."""
    flat = (0.2, 0.8, 1.0, 1.15, 0.95, 1.12, 0.98, 1.1, 1.02)  # last step +0.12 (12 % of its range): noise
    rising = (0.2, 0.5, 0.7, 0.8, 0.9, 1.0, 0.95, 1.12, 1.2)  # last half still rising by 0.23, twice its noise
    curves = pd.DataFrame(
        [("flat", "eval/yardstick/gain_db", 250 * (i + 1), v) for i, v in enumerate(flat)]
        + [("rising", "eval/yardstick/gain_db", 250 * (i + 1), v) for i, v in enumerate(rising)]
        + [("short", "eval/yardstick/gain_db", s, v) for s, v in ((1, 1.0), (2, 2.0), (3, 3.0))],
        columns=["trial_id", "metric", "step", "value"],
    )
    assert plateaus(curves, "eval/yardstick/gain_db") == {"flat": True, "rising": False, "short": True}
    curves = curves[curves["trial_id"] != "short"]
    trials = pd.DataFrame({"trial_id": ["flat", "rising"], N: [4, 64]})
    styles = {line.get_linestyle() for line in plots.learning_curves(curves, trials).axes[0].get_lines()[:2]}
    assert styles == {"-", "--"}


def test_other_figures_show_their_data():
    toy = pd.DataFrame(
        {"content.count": [4, 4, 64, 64], "content.terms": [2, 32, 2, 32], "eval/gap": [0, 0.1, 0.2, 0.5]}
    )
    heat = plots.heatmap(toy, "content.count", "content.terms", "eval/gap")
    assert heat.axes[0].images[0].get_array().tolist() == [[0, 0.2], [0.1, 0.5]]
    vs_m = plots.versus(toy, "content.count", ("eval/gap",), "content.terms")
    assert vs_m.axes[0].get_xscale() == "log" and len(_line_data(vs_m.axes[0])) == 2  # a line per K
    df = _frame(-0.5)
    ladder = df.assign(**{"rain.train": np.resize(["random", "small+medium", "small"], len(df))})
    ticks = plots.metric_by(ladder, "rain.train", "eval/unseen/removal").axes[0].get_xticklabels()
    assert [t.get_text() for t in ticks] == ["small", "small+medium", "random"]  # ladder order, not alphabetical


def test_balance_importance_comes_from_the_persisted_study(tmp_path):
    import optuna

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(directions=["minimize", "minimize"], storage=storage, study_name="s")
    dist = {
        "n": optuna.distributions.IntDistribution(4, 4096, log=True),
        "c": optuna.distributions.FloatDistribution(0, 1),
    }
    rng = np.random.default_rng(0)
    for _ in range(24):
        n, c = int(rng.integers(4, 4096)), float(rng.random())
        study.add_trial(optuna.trial.create_trial(params={"n": n, "c": c}, distributions=dist, values=[np.log(n), c]))
    objectives = {"eval/yardstick/e_r": "min", "eval/yardstick/e_b": "min"}
    table, note = plots.importances(optuna.load_study(study_name="s", storage=storage), objectives)
    top = table.sort_values("importance").groupby("objective").tail(1).set_index("objective")["param"]
    assert top.to_dict() == {"eval/yardstick/e_r": "n", "eval/yardstick/e_b": "c"} and "fANOVA" in note
    few = optuna.create_study(directions=["minimize", "minimize"])
    assert plots.importances(few, objectives)[1].startswith("0 complete trials: too few")


def test_the_knee_is_the_front_point_nearest_the_ideal_corner():
    from analysis.sections import knee

    front = pd.DataFrame({"a": [0.0, 0.2, 1.0], "b": [1.0, 0.3, 0.0], "trial_id": ["x", "knee", "y"]})
    assert knee(front, {"a": "min", "b": "min"})["trial_id"] == "knee"
    assert knee(front.assign(b=-front["b"]), {"a": "min", "b": "max"})["trial_id"] == "knee"


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
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
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
def test_a_trial_whose_result_file_was_cut_is_recovered_or_listed_never_dropped(smoke_sweep, tmp_path):
    """A kill during Ray's final write can leave a 0-byte result.json: load_ray recovers the trial from its
    newest checkpoint's metrics.json, or lists it as 'result lost' when that is gone too."""
    from analysis.load import load_mlflow, load_ray

    folder, uri = smoke_sweep
    copy = tmp_path / "bg"
    shutil.copytree(folder / "ray" / "bg", copy)
    results = sorted(copy.glob("*/result.json"))
    for result in results[:2]:
        result.write_text("")
        (result.parent / "progress.csv").write_text("")
    for checkpoint_metrics in (results[1].parent).glob("checkpoint_*/metrics.json"):
        checkpoint_metrics.unlink()
    trials, _ = load_ray(copy)
    mlflow_trials, _ = load_mlflow("backgrounds", uri, "bg")
    assert len(trials) == len(mlflow_trials) == 4
    notes = trials.set_index("trial_id")["result_note"]
    assert set(notes) == {"", "recovered from its checkpoint", "result file empty and no checkpoint metrics"}
    recovered = trials[trials["result_note"] == "recovered from its checkpoint"].iloc[0]
    same = mlflow_trials.set_index("trial_id").loc[recovered["trial_id"]]
    assert recovered["eval/unseen/removal"] == same["eval/unseen/removal"]  # the checkpoint held the last step
    assert (trials["status"] == "result lost").sum() == 1


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
    assert {N, "eval/unseen/removal", "status", "prior.kind", "degradation"} <= set(ray_trials)
    assert len(ray_curves) == len(curves)
    for frame in (trials, ray_trials):  # 2 grid points x 2 independent replicates
        assert sorted(frame["replicate"]) == [0, 0, 1, 1] and frame.groupby(N)["replicate"].nunique().tolist() == [2, 2]
    # the same sweep read both ways: equal frames (full configs, metrics, status), up to run ids
    columns = sorted(set(trials.columns) - {"run_id"})
    assert columns == sorted(set(ray_trials.columns) - {"run_id"})
    both = [f.sort_values("trial_id").reset_index(drop=True)[columns] for f in (trials, ray_trials)]
    pd.testing.assert_frame_equal(both[0], both[1], check_dtype=False)
    assert ray_trials.attrs["scale"] == "smoke" and ray_trials.attrs["space"] == "backgrounds"

    out = folder / "report"
    assert report_main(["--experiment", "backgrounds", "--sweep", "bg", "--tracking-uri", uri, "--out", str(out)]) == 0
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "gain_vs_n.png" in pngs and "learning_curves.png" in pngs
    markdown = (out / "report.md").read_text()
    assert all(f"]({name})" in markdown for name in pngs)
    assert "At scale 'smoke' trials are short" in markdown  # a smoke-scale sweep says how far its verdicts go
    assert "| identity (derain) | reference (infinite dB logged as 100) |" in markdown  # the scale under the trials
    assert "T2" not in markdown  # a grid's report shows only the claims it can test
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
    assert "n = 6" in finding.statistic and finding.value == pytest.approx(-0.5, abs=0.05)  # the slope per doubling


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


def _balance_sweep(tmp_path):
    """24 synthetic balance trials (2 stopped early) and their study, persisted in sqlite: (trials, storage)."""
    import optuna

    rng = np.random.default_rng(0)
    ns = rng.choice([4, 16, 64, 256, 1024], 24)
    e_r, e_b = np.log2(ns) / 10 + 0.01 * rng.random(24), 1 / np.log2(ns) + 0.01 * rng.random(24)
    status = ["finished"] * 22 + ["stopped"] * 2
    trials = pd.DataFrame(
        {"trial_id": [f"t{i}" for i in range(24)], "status": status, "task": "derain", N: ns, "seed": 0,
         "eval/yardstick/e_r": e_r, "eval/yardstick/e_b": e_b, "eval/yardstick/gain_db": -np.log2(ns)}
    )  # fmt: skip
    trials.loc[22:, "eval/yardstick/e_r"] = 0.0  # stopped trials would dominate the front: they must not be on it
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(directions=["minimize", "minimize"], storage=storage, study_name="bal")
    dist = {N: optuna.distributions.IntDistribution(4, 1024, log=True)}
    for n, r, b in zip(ns[:22], e_r[:22], e_b[:22], strict=True):
        study.add_trial(optuna.trial.create_trial(params={N: int(n)}, distributions=dist, values=[r, b]))
    trials.attrs.update({"space": "balance", "scale": "cpu", "sweep": "bal", "study_storage": storage})
    return trials, storage


def test_a_balance_report_leads_with_the_front_the_knee_and_the_studys_importance(tmp_path):
    import matplotlib.pyplot as plt

    from analysis.report import write_report

    trials, _ = _balance_sweep(tmp_path)
    open_before = plt.get_fignums()
    write_report(trials, pd.DataFrame(columns=["trial_id", "metric", "step", "value"]), tmp_path / "out")
    assert plt.get_fignums() == open_before  # every figure it drew is closed once saved
    markdown = (tmp_path / "out" / "report.md").read_text()
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings[:3] == ["## Pareto front over fully trained trials", "## Recommended balance", "## What matters"]
    assert "## Claims" not in markdown and "fANOVA over 22 complete trials" in markdown
    knee_line = next(line for line in markdown.splitlines() if line.startswith("The front's knee"))
    assert "t22" not in knee_line and "t23" not in knee_line and "data.num_backgrounds=" in knee_line
    assert (tmp_path / "out" / "importance.png").exists() and (tmp_path / "out" / "pareto.png").exists()


STUDY_URLS = {
    "tagged": ("postgresql://derain:***@127.0.0.1:1/optuna", "pass --optuna-storage"),  # as sweeps.sweep tags it
    "refused": ("postgresql://derain:s3cret@127.0.0.1:1/optuna", "could not be opened"),  # nothing listens on 1
    "missing": ("sqlite:////no/such/dir/x.db", "could not be opened"),
}


@pytest.mark.parametrize("case", STUDY_URLS)
def test_a_study_the_report_cannot_open_is_said_and_its_password_never_written(case, tmp_path, caplog):
    """MLflow keeps the study's URL without its password: the report then says to pass --optuna-storage and
    opens nothing; a study that will not open is said in one warning. Either way the report is written, without
    the study's importance and without any password (it is attached to MLflow for everyone to read)."""
    from analysis.report import write_report

    trials, _ = _balance_sweep(tmp_path)
    trials.attrs["study_storage"], said = STUDY_URLS[case]
    write_report(trials, pd.DataFrame(columns=["trial_id", "metric", "step", "value"]), tmp_path / "out")
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "fANOVA" not in markdown and "## Pareto front over fully trained trials" in markdown
    warned = [r.getMessage() for r in caplog.records if r.name == "analysis.report"]
    assert len(warned) == 1 and said in warned[0] and "s3cret" not in warned[0], warned
    written = markdown + (tmp_path / "out" / "report.html").read_text()
    assert "s3cret" not in written and ("derain:***@" in written) == case.endswith("d")


def _with_references(trials: pd.DataFrame, damaging: list[str]) -> pd.DataFrame:
    """``trials`` with what doing nothing scores (its e_r above most trials', e_b 0) and whole-image errors: the
    ``damaging`` trials' above doing nothing's, the rest below."""
    mse = np.where(trials["trial_id"].isin(damaging), 0.08, 0.05)
    refs = {"e_r": 0.9, "e_b": 0.0, "mse": 0.06}
    return trials.assign(
        **{"eval/yardstick/mse": mse}, **{f"ref/identity/eval/yardstick/{k}": v for k, v in refs.items()}
    )


def test_doing_nothing_is_a_point_of_the_front_and_a_trial_that_damages_the_background_is_never_recommended(
    tmp_path,
):
    from analysis.sections import NO_RECOMMENDATION, recommendation, trial_table
    from sweeps.results import IDENTITY

    trials, _ = _balance_sweep(tmp_path)
    done = trials[trials["status"] == "finished"]
    objectives = {"eval/yardstick/e_r": "min", "eval/yardstick/e_b": "min"}
    knee_alone = recommendation(done, objectives)[1].split("trial ")[-1].split(":")[0]
    trials = _with_references(trials, damaging=[knee_alone])
    done = trials[trials["status"] == "finished"]
    front, text = recommendation(done, objectives)
    assert IDENTITY in front["trial_id"].tolist()  # e_b 0: nothing beats it on the background
    assert (front.loc[front["trial_id"] != IDENTITY, "eval/yardstick/e_r"] < 0.9).all()  # it dominates the rest
    assert text.startswith("Doing nothing (the identity output) scores eval/yardstick/e_r 0.9, eval/yardstick/e_b 0")
    chosen = text.split("trial ")[-1].split(":")[0]
    assert chosen != knee_alone and chosen in front["trial_id"].tolist() and "1 fully trained trials damage" in text
    table = trial_table(trials, pd.DataFrame(columns=["trial_id", "metric", "step", "value"]))
    assert table.set_index("trial_id").loc[knee_alone, "damages_background"] == "yes"
    everyone = _with_references(done, damaging=done["trial_id"].tolist())
    assert recommendation(everyone, objectives)[1].endswith(NO_RECOMMENDATION)


def test_the_pareto_figure_shows_doing_nothing_and_crosses_out_the_trials_that_damage_the_background(tmp_path):
    from analysis.sections import recommendation
    from sweeps.results import IDENTITY

    trials, _ = _balance_sweep(tmp_path)
    done = _with_references(trials[trials["status"] == "finished"], damaging=["t0", "t1"])
    front, _ = recommendation(done, {"eval/yardstick/e_r": "min", "eval/yardstick/e_b": "min"})
    ax = plots.pareto(done, "eval/yardstick/e_r", "eval/yardstick/e_b", front=front).axes[0]
    points = {c.get_label(): c.get_offsets() for c in ax.collections}
    assert points[IDENTITY].tolist() == [[0.9, 0.0]]
    assert len(points["damages the background"]) == 2
