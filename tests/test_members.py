"""Ensemble trials in sweeps, without Ray: grouping a grid's points, splitting an ensemble's results into its
members, the MLflow child per member, ``--ensemble`` checks and the dry run."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from derain.errors import DerainError
from sweeps import search
from sweeps.members import (
    MEMBERS,
    failed_members,
    group,
    member_histories,
    member_metrics,
    member_rows,
    prefixed,
)
from sweeps.plan import Settings, build_plan, ensemble_size, ensembles
from sweeps.run import main as sweep_main
from sweeps.spaces import REGISTRY


def test_points_group_by_key_in_even_ensembles_in_order():
    points = [{"n": n, "task": t} for n in range(7) for t in ("a", "b")]
    groups = group(points, key=lambda p: p["task"], size=3)
    assert [len(g) for g in groups] == [2, 2, 3, 2, 2, 3]  # 7 of a kind in 3 ensembles: sizes differ by <= 1
    assert all(len({p["task"] for p in g}) == 1 for g in groups)
    assert [p for g in groups for p in g if p["task"] == "a"] == [p for p in points if p["task"] == "a"]
    assert group(points, key=lambda p: 0, size=1) == [[p] for p in points]


def test_an_ensembles_results_split_into_its_members():
    result = {"node_id": "n1", **prefixed(0, {"train/step": 10, "eval/gap": 0.5}), **prefixed(1, {"train/step": 10})}
    assert member_metrics(result, 0) == {"node_id": "n1", "train/step": 10, "eval/gap": 0.5}
    assert member_metrics(result, 1) == {"node_id": "n1", "train/step": 10}
    frame = pd.DataFrame(
        [
            {"trial_id": "e_0", f"config/{MEMBERS}": [{"seed": 0, "point": {"n": 4}}, {"seed": 1}], **result},
            {"trial_id": "s_1", "config/seed": 5, "train/step": 10, "eval/gap": 0.1},
        ]
    )
    rows = member_rows(frame).set_index("trial_id")
    assert list(rows.index) == ["e_0.m0", "e_0.m1", "s_1"]
    assert rows.loc["e_0.m0", "config/point/n"] == 4 and rows.loc["e_0.m1", "config/seed"] == 1
    assert rows.loc["e_0.m0", "eval/gap"] == 0.5 and pd.isna(rows.loc["e_0.m1", "eval/gap"])
    assert rows.loc["s_1", "config/seed"] == 5 and not any(c.startswith("m0/") for c in rows.columns)


def test_a_member_that_diverged_keeps_its_history_to_that_step():
    history = pd.DataFrame(
        [
            {"node_id": "n", "m0/train/step": 5, "m0/x": 1.0, "m1/train/step": 5, "m1/x": 2.0},
            {"node_id": "n", "m0/train/step": 5, "m0/x": 1.0, "m0/diverged_step": 7, "m1/train/step": 10, "m1/x": 3.0},
            {"node_id": "n", "m0/diverged_step": 7, "m1/train/step": 15, "m1/x": 4.0},
        ]
    )
    (id0, p0, h0), (id1, p1, h1) = member_histories("e_0", {MEMBERS: [{"seed": 0}, {"seed": 1}]}, history)
    assert (id0, p0, id1, p1) == ("e_0.m0", {"seed": 0}, "e_0.m1", {"seed": 1})
    assert h0["train/step"].tolist() == [5, 5] and h0["diverged_step"].iloc[-1] == 7
    assert h1["x"].tolist() == [2.0, 3.0, 4.0] and "node_id" in h1
    assert member_histories("s_1", {"seed": 3}, history)[0][2] is history  # a trial of its own: one member


def test_failed_members_count_the_members_an_ensemble_lost():
    ensemble = SimpleNamespace(config={MEMBERS: [{}, {}, {}]}, error=None, metrics={"m1/diverged_step": 7})
    single = SimpleNamespace(config={"seed": 0}, error=None, metrics={})
    assert failed_members([ensemble, single]) == (3, 1)


def _plan(space: str, scale: str = "smoke", **settings) -> object:
    return build_plan(Settings(space, scale, **settings), "s", "/tmp/unused", "sqlite:///unused.db")


@pytest.mark.parametrize("name", [n for n, s in REGISTRY.items() if not s.axes("smoke").sampled])
def test_every_grid_space_plans_as_ensembles_of_its_models(name):
    plan = _plan(name, ensemble=4, num_samples=2)
    p = search.tune_setup(plan.space, plan.axes, 1, 0, 2, plan.max_reports, ensembles=ensembles(plan))
    singles = search.tune_setup(plan.space, plan.axes, 1, 0, 2, plan.max_reports)
    groups = p.param_space[MEMBERS]["grid_search"] if MEMBERS in p.param_space else [[{}]] * singles.trials
    assert sum(len(g) for g in groups) == singles.trials and all(len(g) <= 4 for g in groups)
    for members in groups if MEMBERS in p.param_space else []:
        assert len({ensemble_key_of(plan, m) for m in members}) == 1


def ensemble_key_of(plan, params):
    from derain.engine.ensemble import ensemble_key
    from sweeps.plan import trial_config

    return ensemble_key(trial_config(plan.spec, params))


def test_the_claims_space_never_puts_a_1d_and_a_2d_trial_in_one_ensemble():
    plan = _plan("claims", ensemble=16)
    p = search.tune_setup(plan.space, plan.axes, 1, 0, None, plan.max_reports, ensembles=ensembles(plan))
    tasks = [{m["point"].get("task", "derain") for m in g} for g in p.param_space[MEMBERS]["grid_search"]]
    assert sorted(map(sorted, tasks)) == [["derain"], ["toy1d"]]


def test_ensemble_size_by_flag_scale_and_space():
    assert ensemble_size(Settings("backgrounds", "gpu"), REGISTRY["backgrounds"]) == 16
    assert ensemble_size(Settings("backgrounds", "cpu"), REGISTRY["backgrounds"]) == 1  # measured slower on CPUs
    assert ensemble_size(Settings("backgrounds", "cpu", ensemble=8), REGISTRY["backgrounds"]) == 8
    assert ensemble_size(Settings("balance", "gpu"), REGISTRY["balance"]) == 1  # Optuna asks one at a time
    with pytest.raises(DerainError, match="--ensemble applies to grid spaces; 'balance' is searched by Optuna"):
        _plan("balance", ensemble=4)


@pytest.mark.parametrize(("flag", "message"), [("0", "--ensemble must be >= 1, got 0"),
                                               ("4", "--ensemble applies to grid spaces")])  # fmt: skip
def test_a_bad_ensemble_flag_is_one_line_before_anything_starts(flag, message, tmp_path, capsys):
    args = ["--space", "balance", "--scale", "smoke", "--storage", str(tmp_path / "ray"), "--ensemble", flag]
    assert sweep_main([*args, "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and not (tmp_path / "ray").exists()


def test_the_dry_run_says_how_the_grid_is_ensembled(tmp_path, capsys):
    args = ["--space", "backgrounds", "--scale", "smoke", "--num-samples", "3", "--ensemble", "4"]
    assert sweep_main([*args, "--storage", str(tmp_path / "ray"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "trials: 6, the grid's 2 points, each with 3 seeds" in out
    assert "ensembles: 2 Tune trials of up to 3 members each (--ensemble 1: one per point)" in out
