"""Every registered space end-to-end at smoke scale on a real local Ray (2 CPUs) with a real sqlite MLflow store;
bad input; a diverging trial. The resume-after-SIGKILL test lives in test_sweeps_resume.py."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import optuna
import pytest
import ray
import torch
from mlflow.tracking import MlflowClient
from ray.tune import ExperimentAnalysis
from sweep_cli import RUN

from derain.engine.loop import precision
from sweeps.results import SWEEP_TAG, TRIAL_TAG
from sweeps.run import main
from sweeps.spaces import REGISTRY
from sweeps.spaces.base import Space, grid_points


@pytest.fixture(scope="module")
def local_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _runs(uri: str, experiment: str, sweep: str):
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment).experiment_id
    parents = client.search_runs([exp], f"tags.`{SWEEP_TAG}` = '{sweep}'")
    children = client.search_runs([exp], f"tags.`mlflow.parentRunId` = '{parents[0].info.run_id}'") if parents else []
    return client, parents, children


def _expected_trials(space: Space) -> int:
    axes = space.axes("smoke")
    return space.samples("smoke") if axes.sampled else len(grid_points(axes.grid))


def _smoke_args(space: str, tmp_path: Path, name: str, *extra: str) -> tuple[str, list[str]]:
    """(tracking URI, CLI args) of a smoke sweep of ``space`` named ``name`` into ``tmp_path``."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    where = ["--storage", str(tmp_path / "ray"), "--tracking-uri", uri]
    return uri, ["--space", space, "--scale", "smoke", *where, "--name", name, *extra]


@pytest.mark.slow
@pytest.mark.parametrize("name", REGISTRY)
def test_space_end_to_end(name, local_ray, tmp_path):
    uri, args = _smoke_args(name, tmp_path, f"{name}-test")
    assert main(args) == 0
    space = REGISTRY[name]
    client, parents, children = _runs(uri, name, f"{name}-test")
    assert len(parents) == 1 and parents[0].data.tags["space"] == name
    assert parents[0].data.tags["scale"] == "smoke" and parents[0].info.status == "FINISHED"
    # MLflow's own tags: the experiment's kind, the commit (the Version column) and the hypothesis
    assert (
        client.get_experiment(parents[0].info.experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
    )
    commit = parents[0].data.tags["mlflow.source.git.commit"]
    assert len(commit) == 40 and all(c.data.tags["mlflow.source.git.commit"] == commit for c in children)
    note = parents[0].data.tags["mlflow.note.content"]
    assert note.startswith(space.hypothesis.strip()) and f"python sweeps/run.py --space {name} " in note
    assert len(children) == _expected_trials(space)
    names = [c.info.run_name for c in children]  # readable, from the swept values, unique within the sweep
    assert len(set(names)) == len(names) and all(re.fullmatch(r".+-(t\d+|[0-9a-f]{8})", n) for n in names), names
    assert not any(n.startswith("train_trial") for n in names)
    assert len({c.data.tags[TRIAL_TAG] for c in children}) == len(children)
    metric = space.metric[0] if space.multi_objective else space.metric
    for child in children:
        assert child.info.status == "FINISHED"
        assert {metric, "train/loss", "train/step", "eval/heldout/psnr"} <= set(child.data.metrics)
        assert "ray.node_id" in child.data.tags and child.data.params
        amp = child.data.params["train.amp"] == "True"  # the trial's training dtype, as this machine decides it
        assert child.data.tags["derain.precision"] == precision(torch.device("cpu"), amp)
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert "config.json" in artifacts
        if child.data.metrics["train/step"] == float(child.data.params["train.iterations"]):
            assert "triptych.png" in artifacts  # trials that ran to the end (ASHA may stop some earlier)
        assert Path(child.data.tags["derain.checkpoint"]).is_file()  # the run links to its newest checkpoint
        if child.data.params["task"] == "derain":  # one snapshot image per evaluation, at its step
            steps = {int(m.value) for m in client.get_metric_history(child.info.run_id, "train/step")}
            images = {a.path for a in client.list_artifacts(child.info.run_id, "images") if a.path.endswith(".png")}
            assert {int(re.search(r"\+step\+(\d+)\+", p).group(1)) for p in images} == steps
    parent_files = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert {"summary.csv", "summary_table.json"} <= parent_files


def _diverging_space(monkeypatch) -> None:
    """Register 'diverge': streaks of height 1e30 overflow the float32 MSE at the first step (a deterministic
    divergence) beside a grid point that trains normally."""
    space = Space(
        "diverge",
        "Huge streaks diverge.",
        "toy1d",
        "eval/heldout/psnr",
        grid={"smoke": {"streaks.custom_amplitude": [(0.2, 0.4), (1e30, 1e30)]}},
    )
    monkeypatch.setitem(REGISTRY, "diverge", space)


@pytest.mark.slow
def test_diverged_trial_fails_while_others_finish(local_ray, tmp_path, monkeypatch):
    _diverging_space(monkeypatch)
    extra = ["--set", "streaks.train=custom", "--set", "train.loss=l2"]
    uri, args = _smoke_args("diverge", tmp_path, "div", *extra)
    assert main(args) == 1  # the sweep completes; the exit status says a trial failed
    _, _, children = _runs(uri, "diverge", "div")
    status = {c.data.params["streaks.custom_amplitude"]: c.info.status for c in children}
    assert status == {"(0.2, 0.4)": "FINISHED", "(1e+30, 1e+30)": "FAILED"}
    failed = next(c for c in children if c.info.status == "FAILED")
    assert "non-finite training loss" in failed.data.tags["error"]


def _cli(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*RUN, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--space", "nope"], "unknown space 'nope' (known: balance, backgrounds"),
        (["--space", "toy1d", "--set", "content.bogus=1"], "unknown config key 'content.bogus'"),
        (["--space", "toy1d", "--set", "train.lr=fast"], "config key 'train.lr' expects float"),
        (["--space", "sharpness", "--set", "data.source=folder:/no/such/dir"], "'/no/such/dir' does not exist"),
        (["--space", "balance", "--set", "data.source=textures"], "--set data.source conflicts with the 'balance'"),
        (["--space", "toy1d", "--num-samples", "0"], "--num-samples must be >= 1"),
        (["--space", "toy1d", "--tracking-uri", "sqlite:////no/such/dir/m.db"], "not writable"),
    ],
)
def test_bad_input_fails_before_ray_starts(args, message, tmp_path):
    proc = _cli([*args, "--storage", str(tmp_path / "ray")])
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert "starting a local Ray instance" not in proc.stderr + proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--address", "127.0.0.1:1"], "cannot reach Ray at --address 127.0.0.1:1"),
        (["--gpus-per-trial", "0.5"], "the Ray cluster has no GPU"),
        (["--storage", "/proc/derain-storage"], "is not writable"),
        (["--resume"], "nothing to resume for space 'toy1d'"),
    ],
)
def test_bad_environment_fails_before_any_trial(args, message, tmp_path):
    start = time.monotonic()
    base = ["--space", "toy1d", "--scale", "smoke", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"]
    if "--storage" not in args:
        base += ["--storage", str(tmp_path / "ray")]
    proc = _cli([*base, *args], timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert message in proc.stderr
    assert time.monotonic() - start < 60  # and within 30 s of connecting, for the address case
    assert not list((tmp_path / "ray").glob("*/trial*")) if (tmp_path / "ray").exists() else True


def test_list_shows_every_space():
    proc = _cli(["--list"])
    assert proc.returncode == 0
    for name, space in REGISTRY.items():
        assert f"{name:<16}{space.summary}" in proc.stdout


@pytest.mark.slow
def test_trials_stopped_early_are_pruned_tagged_and_left_out(local_ray, tmp_path, capsys):
    # 4 evaluations per trial and one trial at a time: ASHA's rung at evaluation 2 stops the weaker trials.
    extra = [
        "--num-samples",
        "6",
        "--max-concurrent",
        "1",
        "--set",
        "train.iterations=40",
        "--set",
        "train.eval_every=10",
    ]
    uri, args = _smoke_args("balance", tmp_path, "pruned", *extra)
    assert main(args) == 0
    printed = capsys.readouterr().out
    _, _, children = _runs(uri, "balance", "pruned")
    stopped = {c.data.tags[TRIAL_TAG] for c in children if c.data.tags.get("derain.stopped_early") == "true"}
    assert stopped and len(stopped) < len(children)  # the scheduler really stopped some, not all
    for child in children:
        step = child.data.metrics["train/step"]
        assert (child.data.tags[TRIAL_TAG] in stopped) == (step < 40)
        if child.data.tags[TRIAL_TAG] in stopped:
            assert child.data.tags["derain.stopped_step"] == str(int(step)) and child.data.tags["status"] == "stopped"
    study = optuna.load_study(study_name="pruned", storage=f"sqlite:///{tmp_path / 'ray' / 'pruned' / 'optuna.db'}")
    states = [t.state.name for t in study.trials]
    assert states.count("PRUNED") == len(stopped) and states.count("COMPLETE") == len(children) - len(stopped)
    pareto = printed[printed.index("Pareto set") : printed.index("Inspect the sweep")]
    assert f"{len(stopped)} stopped early, left out" in pareto
    assert not any(trial_id[:8] in pareto for trial_id in stopped)  # Tune's table shows the short trial ids
    assert f"optuna-dashboard sqlite:///{tmp_path / 'ray' / 'pruned' / 'optuna.db'}" in printed


@pytest.mark.slow
def test_the_prior_pretrains_beside_the_trials_that_need_none(local_ray, tmp_path, caplog):
    """The prior space's smoke grid has a trial without a prior and one with it: the first runs while the prior
    pre-trains (a Ray task on the other CPU), the second reports nothing before the prior is in the store."""
    store = tmp_path / "priors"
    sets = ["--set", "prior.pretrain_iterations=300", "--set", f"prior.store={store}", "--set", "train.iterations=40"]
    uri, args = _smoke_args("prior", tmp_path, "beside", *sets)
    with caplog.at_level("INFO", logger="sweeps"):
        assert main(args) == 0
    (weights,) = store.glob("*/prior.pt")
    ready_ms = weights.stat().st_mtime * 1000
    client, _, children = _runs(uri, "prior", "beside")
    by_kind = {c.data.params["prior.kind"]: c for c in children}
    first_metric = {k: min(m.timestamp for m in client.get_metric_history(c.info.run_id, "train/step"))
                    for k, c in by_kind.items()}  # fmt: skip
    assert first_metric["none"] < ready_ms < first_metric["vq"]  # trained while the prior did; waited for it
    said = [r.getMessage() for r in caplog.records]
    assert any("content priors: 1 to make sure of, beside the trials" in m for m in said)
    first = next(m for m in said if m.startswith("first trial running"))
    assert "content priors" not in first  # the start-up waited for no pre-training


def _children_by(children: list, key: str) -> dict:
    return {c.data.params[key]: c for c in children}


@pytest.mark.slow
def test_an_ensemble_trial_gives_each_member_the_child_and_the_numbers_of_its_own_trial(local_ray, tmp_path):
    """The backgrounds grid as one 2-member ensemble trial and as two trials: one child run per member with its
    params, curves, images, artifacts and checkpoint, and the same numbers; Ray's folder reads the same."""
    from analysis.load import load_mlflow, load_ray
    from sweeps.results import ENSEMBLE_TAG

    uri, args = _smoke_args("backgrounds", tmp_path, "together", "--ensemble", "2")
    assert main(args) == 0
    assert main([*_smoke_args("backgrounds", tmp_path, "alone", "--ensemble", "1")[1]]) == 0
    client, _, together = _runs(uri, "backgrounds", "together")
    alone = _children_by(_runs(uri, "backgrounds", "alone")[2], "data.num_backgrounds")
    (ensemble,) = ExperimentAnalysis(str(tmp_path / "ray" / "together")).trials  # one Tune trial
    assert sorted(c.data.tags[TRIAL_TAG] for c in together) == [f"{ensemble.trial_id}.m{k}" for k in range(2)]
    for n, child in _children_by(together, "data.num_backgrounds").items():
        assert child.info.status == "FINISHED" and child.data.tags[ENSEMBLE_TAG] == ensemble.trial_id
        assert child.data.params == alone[n].data.params  # the member's own full config
        for metric, value in alone[n].data.metrics.items():
            assert child.data.metrics[metric] == pytest.approx(value, rel=2e-3, abs=2e-4), metric
        history, key = client.get_metric_history(child.info.run_id, "eval/yardstick/gain_db"), "eval/yardstick/gain_db"
        assert [m.step for m in history] == [m.step for m in client.get_metric_history(alone[n].info.run_id, key)]
        assert {"config.json", "triptych.png"} <= {a.path for a in client.list_artifacts(child.info.run_id)}
        images = client.list_artifacts(child.info.run_id, "images")
        assert len([a for a in images if a.path.endswith(".png")]) == len(history)
        checkpoint = Path(child.data.tags["derain.checkpoint"])
        assert checkpoint.is_file() and re.fullmatch(r"m[01]", checkpoint.parent.name)
    by_mlflow = load_mlflow("backgrounds", uri, "together")[0].set_index("trial_id")
    by_ray = load_ray(tmp_path / "ray" / "together")[0].set_index("trial_id")
    assert sorted(by_ray.index) == sorted(by_mlflow.index)
    assert by_ray["eval/yardstick/gain_db"].to_dict() == pytest.approx(by_mlflow["eval/yardstick/gain_db"].to_dict())


@pytest.mark.slow
def test_an_ensemble_member_that_diverges_fails_alone(local_ray, tmp_path, monkeypatch):
    _diverging_space(monkeypatch)
    extra = ["--set", "streaks.train=custom", "--set", "train.loss=l2", "--ensemble", "2"]
    uri, args = _smoke_args("diverge", tmp_path, "div", *extra)
    assert main(args) == 1  # the trial finished, one of its members failed: the exit status says so
    _, _, children = _runs(uri, "diverge", "div")
    status = {c.data.params["streaks.custom_amplitude"]: c.info.status for c in children}
    assert status == {"(0.2, 0.4)": "FINISHED", "(1e+30, 1e+30)": "FAILED"}
    fine = next(c for c in children if c.info.status == "FINISHED")
    assert fine.data.metrics["train/step"] == float(fine.data.params["train.iterations"])
    failed = next(c for c in children if c.info.status == "FAILED")
    assert "non-finite" in failed.data.tags["error"] and failed.data.tags["status"] == "failed"
