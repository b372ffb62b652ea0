"""Sweeps without Ray trials: spaces as data, the search plan, sanitising, the Pareto set, MLflow reattach."""

import math
from types import SimpleNamespace

import pandas as pd
import pytest

from derain.config.presets import SCALE_NAMES
from sweeps.plan import Settings, TrialSpec, base_overrides, corner_configs, sanitize, trial_config
from sweeps.results import pareto_mask
from sweeps.search import tune_setup
from sweeps.spaces import REGISTRY
from sweeps.spaces.base import Space, grid_points


def _setup(space: Space, scale: str, seed: int, num_samples: int | None, max_reports: int):
    return tune_setup(space, space.axes(scale), space.samples(scale), seed, num_samples, max_reports)


@pytest.mark.parametrize("scale", SCALE_NAMES)
@pytest.mark.parametrize("name", REGISTRY)
def test_every_space_value_builds_a_config(name, scale):
    space = REGISTRY[name]
    axes = space.axes(scale)
    spec = TrialSpec(space.task, scale, base_overrides(space, axes, Settings(name, scale)))
    assert corner_configs(axes, spec)  # raises ConfigError naming the key otherwise
    assert axes.grid or axes.sampled
    assert space.summary and space.hypothesis.strip().splitlines()[0].endswith(".")
    assert space.task in ("derain", "toy1d")


@pytest.mark.parametrize("name", REGISTRY)
def test_every_space_plans(name):
    space = REGISTRY[name]
    p = _setup(space, "smoke", seed=0, num_samples=None, max_reports=2)
    assert p.param_space
    if space.sampled:
        assert p.search_alg is not None and p.scheduler is not None and p.metric is None
    else:
        assert p.search_alg is None and p.num_samples == 1


def test_grid_and_optuna_coexist():
    space = Space(
        "mixed",
        "Mixed.",
        "toy1d",
        ("eval/unseen/e_r", "eval/heldout/psnr"),
        grid={"smoke": {"content.terms": [2, 8], "streaks.train": ["narrow", "broad"]}},
        sampled={"smoke": {"content.count": ("lograndint", 4, 64)}},
        num_samples={"smoke": 2},
    )
    p = _setup(space, "smoke", seed=3, num_samples=None, max_reports=3)
    assert p.num_samples == 4  # grows to cover the 2 x 2 grid
    assert set(p.param_space) == {"content.terms", "streaks.train", "content.count"}
    points = p.search_alg._points_to_evaluate
    assert sorted((pt["content.terms"], pt["streaks.train"]) for pt in points) == sorted(
        (g["content.terms"], g["streaks.train"]) for g in grid_points(space.grid["smoke"])
    )
    assert all(pt["content.count"] == 16 for pt in points)  # sampled axes at their (log) midpoint


def test_grid_repeats_become_seeds():
    p = _setup(REGISTRY["toy1d"], "smoke", seed=10, num_samples=3, max_reports=2)
    assert p.param_space["seed"] == {"grid_search": [10, 11, 12]}


def test_repeats_of_explicit_points_get_new_seeds_not_duplicates():
    points = REGISTRY["claims"].points["cpu"]
    p = _setup(REGISTRY["claims"], "cpu", seed=0, num_samples=3, max_reports=2)
    repeated = p.param_space["point"]["grid_search"]
    assert "seed" not in p.param_space and len(repeated) == 3 * len(points)
    assert len({tuple(sorted(pt.items())) for pt in repeated}) == len(repeated)  # no trial twice
    assert repeated[: len(points)] == points  # the first copy is the space as written


def test_sanitize_keeps_searchers_alive():
    objectives = {"eval/unseen/e_r": "min", "eval/heldout/psnr": "max"}
    out = sanitize(
        {"eval/unseen/e_r": math.nan, "eval/heldout/psnr": math.inf, "eval/x/removal": math.nan, "train/loss": 0.5},
        objectives,
    )
    assert out == {"eval/unseen/e_r": 1e9, "eval/heldout/psnr": 100.0, "train/loss": 0.5}
    assert sanitize({}, objectives) == {"eval/unseen/e_r": 1e9, "eval/heldout/psnr": -1e9}


def test_pareto_mask():
    df = pd.DataFrame({"e": [0.1, 0.2, 0.3, 0.1], "p": [20.0, 30.0, 25.0, 19.0]})
    assert pareto_mask(df, ("e", "p"), ("min", "max")).tolist() == [True, True, False, False]


def test_trial_config_layers_scale_base_and_params():
    spec = TrialSpec("derain", "smoke", {"data.num_backgrounds": 8, "seed": 5})
    cfg = trial_config(spec, {"data.num_backgrounds": 32})
    assert cfg.data.num_backgrounds == 32 and cfg.seed == 5 and cfg.data.patch_size == 32


def test_mlflow_callback_reattaches_without_duplicates(tmp_path):
    from mlflow.tracking import MlflowClient

    from sweeps.tracking import TRIAL_TAG, MlflowSweepCallback

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    trial = SimpleNamespace(trial_id="t1", config={"a": 1}, checkpoint=None, status="TERMINATED")

    def fresh():
        return MlflowSweepCallback(uri, "exp", "sweep-1", {"space": "x"}, lambda c: {"a": c["a"]})

    first = fresh()
    first.setup()
    first.on_trial_start(0, [], trial)
    for step in (10, 20):
        first.on_trial_result(0, [], trial, {"train/step": step, "eval/gap": step / 100})
    first.flush()  # the first driver's writes landed before it "died"
    second = fresh()  # a resumed driver: new callback, same sweep
    second.setup()
    second.on_trial_result(0, [], trial, {"train/step": 20, "eval/gap": 0.99})  # re-reported after resume
    second.on_trial_result(0, [], trial, {"train/step": 30, "eval/gap": 0.3})
    second.on_trial_complete(0, [], trial)
    first.flush()
    second.flush()
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("exp").experiment_id
    runs = client.search_runs([exp])
    children = [r for r in runs if TRIAL_TAG in r.data.tags]
    assert len(runs) == 2 and len(children) == 1
    history = client.get_metric_history(children[0].info.run_id, "eval/gap")
    assert [(m.step, m.value) for m in history] == [(10, 0.1), (20, 0.2), (30, 0.3)]
    assert children[0].info.status == "FINISHED" and children[0].data.params == {"a": "1"}


def test_the_sampler_is_guided_for_most_of_a_small_budget(tmp_path):
    from sweeps.search import Study, startup_trials

    assert [startup_trials(n) for n in (3, 8, 64, 200)] == [2, 2, 10, 10]
    p = _setup(REGISTRY["balance"], "cpu", seed=0, num_samples=None, max_reports=4)
    assert p.search_alg._sampler._n_startup_trials == 2 and p.num_samples == 8  # 6 of the 8 default trials guided
    stored = tune_setup(
        REGISTRY["balance"], *_axes("balance", "smoke"), 0, None, 2, 20, Study(f"sqlite:///{tmp_path / 'x.db'}", "s")
    )
    assert stored.search_alg._storage is not None and stored.search_alg._study_name == "s"


def _axes(name: str, scale: str):
    return REGISTRY[name].axes(scale), REGISTRY[name].samples(scale)


def test_the_summary_never_ranks_trials_that_sat_different_exams():
    from sweeps.summary import summary_table

    points = [{"task": "derain", "data.num_backgrounds": 4}, {"task": "toy1d", "content.count": 1}]
    frame = pd.DataFrame(
        {"trial_id": ["a", "b"], "config/point": points, "eval/yardstick/gain_db": [1.5, 9.0], "train/step": [20, 30]}
    )
    title, rows = summary_table(frame, REGISTRY["claims"], ["point"], final_step=20)
    assert rows["trial_id"].tolist() == ["a"] and "1 trials of another task sit another exam" in title
    # as Tune's results frame has it: the point flattened into config/point/<key> columns
    flat = frame.drop(columns="config/point").assign(**{"config/point/task": ["derain", "toy1d"]})
    title, rows = summary_table(flat, REGISTRY["claims"], ["point"], final_step=20)
    assert rows["trial_id"].tolist() == ["a"] and "1 trials of another task sit another exam" in title


def test_the_pareto_summary_has_doing_nothing_as_a_row_and_flags_trials_that_damage_the_background():
    from sweeps.results import IDENTITY
    from sweeps.summary import summary_table

    frame = pd.DataFrame(
        {
            "trial_id": ["a", "b", "c", "d"],
            "config/data.num_backgrounds": [4, 64, 256, 1024],
            "eval/yardstick/e_r": [0.02, 0.04, 0.06, 0.5],  # d leaves more rain than doing nothing (0.3)
            "eval/yardstick/e_b": [0.010, 0.005, 0.001, 0.0001],
            "eval/yardstick/mse": [0.08, 0.05, 0.04, 0.12],  # a: worse than doing nothing on the whole image
            "train/step": [800] * 4,
            "ref/identity/eval/yardstick/e_r": 0.3,
            "ref/identity/eval/yardstick/e_b": 0.0,
            "ref/identity/eval/yardstick/mse": 0.06,
        }
    )
    title, rows = summary_table(frame, REGISTRY["balance"], ["data.num_backgrounds"], final_step=800)
    assert rows["trial_id"].tolist() == ["a", "b", "c", IDENTITY]  # d: dominated by doing nothing, off the front
    assert rows["damages_background"].tolist()[:3] == ["yes", "", ""] and "1 damage the background" in title
    assert rows.iloc[-1][["eval/yardstick/e_r", "eval/yardstick/e_b"]].tolist() == [0.3, 0.0]
    assert rows.iloc[-1][["data.num_backgrounds", "damages_background"]].tolist() == ["", ""]  # printed blank


def test_a_resumed_search_tells_the_trial_tune_resumes_and_closes_the_one_it_never_will(tmp_path):
    """The searcher state Tune saved knows trials 'a' (told) and 'b' (asked, running); the killed driver then
    asked for 'c', which no saved state knows. On restore 'b' stays open and is told when Tune finishes it (the
    CI failure of stop 20: it had been closed as FAIL, so its result never reached the study), 'c' is closed."""
    import optuna

    from derain.keys import TRAIN_STEP
    from sweeps.search import Study, close_abandoned

    study = Study(f"sqlite:///{tmp_path / 'optuna.db'}", "resumed")
    space = REGISTRY["balance"]

    def searcher():
        p = tune_setup(space, *_axes("balance", "smoke"), 0, None, 2, 20, study)
        p.search_alg.set_search_properties(None, None, p.param_space)
        return p.search_alg

    result = {**dict.fromkeys(space.objectives, 0.5), TRAIN_STEP: 20}
    first = searcher()
    for trial_id in "ab":
        assert first.suggest(trial_id)
    first.on_trial_complete("a", result)
    first.save(str(tmp_path / "searcher.pkl"))
    first.suggest("c")  # asked after the last save, then the driver dies

    resumed = searcher()
    resumed.restore(str(tmp_path / "searcher.pkl"))
    stored = optuna.load_study(study_name=study.name, storage=study.storage)
    assert [t.state.name for t in stored.trials] == ["COMPLETE", "RUNNING", "FAIL"]
    resumed.on_trial_complete("b", result)
    assert close_abandoned(study) == 0  # nothing left open
    stored = optuna.load_study(study_name=study.name, storage=study.storage)
    assert [t.state.name for t in stored.trials] == ["COMPLETE", "COMPLETE", "FAIL"]
    assert stored.trials[1].values == [0.5, 0.5]
