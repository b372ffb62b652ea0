"""Resume after a hard kill: SIGKILL the sweep's driver after a trial finished, ``--resume``, and every trial
finishes exactly once in Ray and has exactly one child run in MLflow."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import optuna
import pytest
from mlflow.tracking import MlflowClient
from ray.tune import ExperimentAnalysis
from sweep_cli import RUN, start_sweep

from sweeps.results import SWEEP_TAG, TRIAL_TAG

ITERATIONS = 600


def _children(uri: str, sweep: str, experiment: str = "toy1d") -> list:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return []
    parents = client.search_runs([exp.experiment_id], f"tags.`{SWEEP_TAG}` = '{sweep}'")
    if not parents:
        return []
    return client.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{parents[0].info.run_id}'")


def _kill_when_one_finished(
    proc: subprocess.Popen,
    uri: str,
    deadline_s: float,
    sweep: str = "resumable",
    experiment: str = "toy1d",
    mid_step: int = 0,
) -> None:
    """SIGKILL the driver once a trial has finished (and, with ``mid_step``, another one is running past that
    step, so that the resume must continue it from a checkpoint)."""

    def ready(children: list) -> bool:
        running = [c for c in children if c.info.status == "RUNNING"]
        midway = any(c.data.metrics.get("train/step", 0) >= mid_step for c in running) if mid_step else True
        return any(c.info.status == "FINISHED" for c in children) and midway

    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended before it could be interrupted: {proc.stdout.read()[-2000:]}")
        try:
            if ready(_children(uri, sweep, experiment)):
                os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray it started, mid-sweep
                proc.wait(30)
                return
        except Exception:  # noqa: BLE001 - the store may be mid-migration while the driver starts
            pass
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail("no trial finished in time")


def assert_resumed_from_a_checkpoint(steps: list[int]) -> None:
    """An interrupted trial resumed from a checkpoint, not from step 0: its steps never go back, and its first
    evaluation is reported once (a restart would report it again). The step(s) reported after Tune's last save
    of its experiment state (at most a second old, TUNE_GLOBAL_CHECKPOINT_S) and before the kill are repeated:
    that checkpoint was not yet recorded, so the trial continues from the one before it."""
    assert steps == sorted(steps) and steps.count(steps[0]) == 1, steps
    assert len(steps) - len(set(steps)) <= 2, steps  # a few evaluations at most, not the whole history


@pytest.mark.slow
def test_sigkill_then_resume_finishes_every_trial_once(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    storage = tmp_path / "ray"
    common = [
        "--space",
        "toy1d",
        "--scale",
        "smoke",
        "--storage",
        str(storage),
        "--tracking-uri",
        uri,
        "--name",
        "resumable",
    ]
    first = [
        *common,
        "--max-concurrent",
        "1",
        "--num-samples",
        "2",
        "--set",
        f"train.iterations={ITERATIONS}",
        "--set",
        "train.eval_every=50",
    ]
    proc = start_sweep(first, tmp_path)
    _kill_when_one_finished(proc, uri, deadline_s=240, mid_step=100)
    before = {c.data.tags[TRIAL_TAG]: c.info.status for c in _children(uri, "resumable")}
    assert "FINISHED" in before.values() and len(before) < 4
    interrupted = [t for t, status in before.items() if status == "RUNNING"]

    resumed = subprocess.run([*RUN, *common, "--resume"], capture_output=True, text=True, timeout=400, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    # The line other tests look for to show that Ray never started; its library log lines are at WARNING.
    assert "starting a local Ray instance" in resumed.stderr and "Started a local Ray" not in resumed.stderr

    analysis = ExperimentAnalysis(str(storage / "resumable"))
    assert len(analysis.trials) == 4  # 2 grid points x 2 seeds
    for trial in analysis.trials:
        assert trial.status == "TERMINATED"
        frame = analysis.trial_dataframes[trial.trial_id]
        # Finished: its last step reached. A trial that finished just before the kill, while Tune had not yet
        # saved it as finished, is restored at its last checkpoint and reports that final step once more.
        assert 1 <= (frame["train/step"] == ITERATIONS).sum() <= 2
        assert_resumed_from_a_checkpoint([s for s in frame["train/step"].tolist() if s != ITERATIONS])
    assert interrupted  # killed past step 100 of 600: its resume had a checkpoint to continue from
    children = _children(uri, "resumable")
    ids = [c.data.tags[TRIAL_TAG] for c in children]
    assert sorted(ids) == sorted(t.trial_id for t in analysis.trials)  # one child per trial, none duplicated
    assert all(c.info.status == "FINISHED" for c in children)


@pytest.mark.slow
def test_the_optuna_study_survives_a_kill_and_resume(tmp_path):
    """A sampled space: the study persisted beside the Ray state holds one told Optuna trial per Tune trial
    after the resume; the trial the killed driver had asked for and never told is closed as FAIL, not left
    RUNNING."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    storage = tmp_path / "ray"
    common = ["--space", "balance", "--scale", "smoke", "--storage", str(storage), "--tracking-uri", uri]
    common += ["--name", "searched"]
    first = [*common, "--max-concurrent", "1", "--num-samples", "3"]
    first += ["--set", "train.iterations=200", "--set", "train.eval_every=50"]
    proc = start_sweep(first, tmp_path)
    _kill_when_one_finished(proc, uri, deadline_s=300, sweep="searched", experiment="balance")
    resumed = subprocess.run([*RUN, *common, "--resume"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"optuna-dashboard sqlite:///{storage / 'searched' / 'optuna.db'}" in resumed.stdout

    study = optuna.load_study(study_name="searched", storage=f"sqlite:///{storage / 'searched' / 'optuna.db'}")
    states = [t.state.name for t in study.trials]
    told = [s for s in states if s in ("COMPLETE", "PRUNED")]
    assert len(told) == 3 and "RUNNING" not in states and states.count("FAIL") <= 1, states  # one trial at a time
    assert study.metric_names == ["eval/yardstick/e_r", "eval/yardstick/e_b"]
    children = _children(uri, "searched", "balance")
    tune_ids = {t.trial_id for t in ExperimentAnalysis(str(storage / "searched")).trials}
    ran = [c for c in children if c.data.tags[TRIAL_TAG] in tune_ids]
    assert len(ran) == 3 and all(c.info.status == "FINISHED" for c in ran)  # one child per trial, finished
    lost = [c for c in children if c.data.tags[TRIAL_TAG] not in tune_ids]  # started by the killed driver only
    assert all(c.info.status == "KILLED" and c.data.tags["status"] == "lost" for c in lost) and len(lost) <= 1


@pytest.mark.slow
def test_an_ensemble_sweep_resumes_each_member_from_its_checkpoint(tmp_path):
    """Two 2-member ensemble trials, one at a time: the driver is killed while the second ensemble is past step
    100; after ``--resume`` every member finished once, with one child run, continuing from its checkpoint."""
    from sweeps.members import member_histories

    uri, storage = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "ray"
    common = ["--space", "toy1d", "--scale", "smoke", "--storage", str(storage), "--tracking-uri", uri]
    common += ["--name", "resumable"]
    first = [*common, "--max-concurrent", "1", "--num-samples", "2", "--ensemble", "2"]
    first += ["--set", f"train.iterations={ITERATIONS}", "--set", "train.eval_every=50"]
    proc = start_sweep(first, tmp_path)
    _kill_when_one_finished(proc, uri, deadline_s=240, mid_step=100)
    assert "RUNNING" in {c.info.status for c in _children(uri, "resumable")}
    resumed = subprocess.run([*RUN, *common, "--resume"], capture_output=True, text=True, timeout=400, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]

    analysis = ExperimentAnalysis(str(storage / "resumable"))
    assert len(analysis.trials) == 2 and all(t.status == "TERMINATED" for t in analysis.trials)
    members = []
    for trial in analysis.trials:
        history = analysis.trial_dataframes[trial.trial_id]
        for member, _, frame in member_histories(trial.trial_id, trial.config, history):
            members.append(member)
            assert 1 <= (frame["train/step"] == ITERATIONS).sum() <= 2
            assert_resumed_from_a_checkpoint([s for s in frame["train/step"].tolist() if s != ITERATIONS])
    children = _children(uri, "resumable")
    assert sorted(c.data.tags[TRIAL_TAG] for c in children) == sorted(members) and len(members) == 4
    assert all(c.info.status == "FINISHED" for c in children)
