"""What a researcher reads: readable trial names, the parent's description and UI link, --dry-run, reruns of a
logged config, single runs in MLflow, and log levels (issue 16). Real MLflow stores in temp dirs; no Ray."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import subprocess

import pytest
from mlflow.tracking import MlflowClient
from sweep_cli import RUN

from derain.cli.common import setup_logging
from derain.config.presets import SCALE_NAMES
from derain.tasks import TASKS
from derain.train import main as train_main
from sweeps import dryrun
from sweeps.costs import COSTS, trial_cost
from sweeps.names import trial_name
from sweeps.results import parent_note, ui_command
from sweeps.run import main as sweep_main
from sweeps.spaces import REGISTRY


def test_trial_names_read_the_swept_values_and_stay_unique():
    params = {"data.num_backgrounds": 64, "data.source": "photos", "rain.train": "small+medium", "prior.kind": "vq"}
    assert trial_name(params, "ab12c_00003") == "N64-photos-small+medium-vq-t3"
    point = {"point": {"task": "toy1d", "content.count": 16, "seed": 11}}
    assert trial_name(point, "ab12c_00010") == "M16-s11-t10"
    assert trial_name({"train.lr": 0.000312345}, "x_00001") == "lr0.000312-t1"
    assert trial_name({"data.num_backgrounds": 8}, "eb91ee8f") == "N8-eb91ee8f"  # a searcher's trial id
    same = [trial_name({"data.num_backgrounds": 8}, f"x_{i:05d}") for i in range(3)]
    assert len(set(same)) == 3  # the same draw twice still gets two names


def test_parent_note_and_the_link_that_opens_the_runs_table():
    note = parent_note("  Few backgrounds help.\n", "python sweeps/run.py --space balance")
    assert note.startswith("Few backgrounds help.") and note.endswith("    python sweeps/run.py --space balance")
    local = ui_command("sqlite:////x/mlflow.db", "7")
    assert local.startswith("mlflow ui --backend-store-uri sqlite:////x/mlflow.db")
    assert local.endswith("http://127.0.0.1:5000/#/experiments/7?workflowType=machine_learning")
    assert (
        ui_command("http://tracker:5000/", "7") == "http://tracker:5000/#/experiments/7?workflowType=machine_learning"
    )


def test_no_password_reaches_the_ui_or_the_terminal(tmp_path):
    """A Postgres study and a tracking server behind basic auth (the compose route): the parent's note, the
    printed link and the printed dashboard command show no password; the link drops the login entirely (the
    browser asks), the commands keep the user and show ***."""
    from sweeps.plan import Settings, build_plan
    from sweeps.results import STUDY_TAG
    from sweeps.sweep import parent_tags

    note = parent_note("H.", "python sweeps/run.py --optuna-storage postgresql://derain:s3cret@pg:5432/optuna")
    assert "s3cret" not in note and "postgresql://derain:***@pg:5432/optuna" in note
    assert ui_command("http://derain:s3cret@tracker:5000", "7").startswith("http://tracker:5000/#/experiments/7")
    assert ui_command("postgresql://derain:s3cret@pg/mlflow").startswith(
        "mlflow ui --backend-store-uri postgresql://derain:***@pg/mlflow"
    )
    settings = Settings("balance", "smoke", optuna_storage="postgresql://derain:s3cret@pg:5432/optuna")
    plan = build_plan(settings, "pg", str(tmp_path), f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert plan.study.storage.endswith(":s3cret@pg:5432/optuna")  # the sweep itself needs it whole
    assert plan.dashboard_command == "optuna-dashboard postgresql://derain:***@pg:5432/optuna"
    launched = dataclasses.replace(plan, command="python sweeps/run.py --optuna-storage " + plan.study.storage)
    tags = parent_tags(launched)
    assert tags[STUDY_TAG] == "postgresql://derain:***@pg:5432/optuna" and "s3cret" not in str(tags)


@pytest.mark.parametrize("name", REGISTRY)
def test_dry_run_lists_trials_time_and_places_and_starts_nothing(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["--space", name, "--scale", "cpu", "--storage", str(tmp_path / "ray"), "--tracking-uri", uri]
    assert sweep_main([*args, "--name", "preview", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"dry run of sweep 'preview': space {name} (") and "scale cpu" in out
    assert re.search(r"^trials: \d+", out, re.M) and re.search(r"; at once: \d+ on this machine", out)
    assert re.search(r"about [\d.]+ min per trial \(measured at scale cpu, (float32|bfloat16) steps\)", out)
    assert f"Ray experiment: {tmp_path / 'ray' / 'preview'}" in out and f"MLflow: {uri}" in out
    assert list(tmp_path.iterdir()) == []  # no storage folder, no mlflow.db, no optuna.db


def _minutes_per_trial(steps: str, tmp_path, capsys, monkeypatch) -> float:
    monkeypatch.setattr(dryrun, "precision", lambda device, enabled: steps)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["--space", "claims", "--scale", "cpu", "--storage", str(tmp_path / "ray"), "--tracking-uri", uri]
    assert sweep_main([*args, "--name", "preview", "--dry-run"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("time:"))
    assert f"measured at scale cpu, {steps} steps" in line
    return float(re.search(r"about ([\d.]+) min per trial", line).group(1))


def test_the_dry_run_costs_trials_in_the_precision_the_cpu_steps_in(tmp_path, capsys, monkeypatch):
    # measured on the 2-core machine: cpu claims trials 81 s (2D) / 24 s (1D) in bf16, about 4x that in fp32
    bf16 = _minutes_per_trial("bfloat16", tmp_path, capsys, monkeypatch)
    fp32 = _minutes_per_trial("float32", tmp_path, capsys, monkeypatch)
    assert 0.7 <= bf16 <= 1.1 and fp32 > 2.5 * bf16


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("scale", SCALE_NAMES)
@pytest.mark.parametrize("steps", ["float32", "bfloat16", "float16"])
def test_every_task_scale_and_precision_has_a_trial_cost(task, scale, steps):
    cost, measured_in = trial_cost(task, scale, steps)
    assert cost.trial_seconds(100, 1) > cost.start_s > 0
    assert measured_in == steps or (task, scale, steps) not in COSTS


def test_dry_run_of_the_default_job_names_its_trials(tmp_path):
    proc = subprocess.run(
        [*RUN, "--space", "toy1d", "--scale", "smoke", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "trials: 2, the grid's 2 points:" in proc.stdout
    assert "  K4-M8-narrow\n  K4-M64-narrow\n" in proc.stdout
    assert "starting a local Ray instance" not in proc.stdout + proc.stderr and not list(tmp_path.iterdir())


@pytest.mark.slow
def test_a_logged_run_reruns_from_its_config_json_with_equal_metrics(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = ["--scale", "smoke", "--set", "data.num_backgrounds=8", "--out", str(tmp_path / "a"), "-q"]
    assert train_main([*first, "--tracking-uri", uri, "--experiment", "balance"]) == 0
    client = MlflowClient(uri)
    run = client.search_runs([client.get_experiment_by_name("balance").experiment_id])[0]
    logged = client.download_artifacts(run.info.run_id, "config.json", str(tmp_path))
    assert train_main(["--config", logged, "--out", str(tmp_path / "b"), "-q"]) == 0  # same process: same threads
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("a", "b"))
    assert a.keys() == b.keys() and all(a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]) for k in a)
    # overrides go on top of the file: the rerun with another seed differs
    assert train_main(["--config", logged, "--set", "seed=1", "--out", str(tmp_path / "c"), "-q"]) == 0
    c = json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert c["train/loss"] != a["train/loss"]


@pytest.mark.slow
def test_a_single_run_is_logged_like_a_sweep_child(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "run"
    assert train_main(["--scale", "smoke", "--set", "rain.train=medium", "--out", str(out), "--tracking-uri", uri]) == 0
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("single-runs")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.run_name == "medium" and run.info.status == "FINISHED"
    assert run.data.params["rain.train"] == "medium" and run.data.params["task"] == "derain"
    assert run.data.tags["derain.checkpoint"] == str(out.resolve() / "checkpoint.pt")
    assert len(run.data.tags["mlflow.source.git.commit"]) == 40
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "eval/yardstick/gain_db")]
    assert steps == [10, 20]
    images = [a.path for a in client.list_artifacts(run.info.run_id, "images") if a.path.endswith(".png")]
    assert sorted(int(re.search(r"\+step\+(\d+)\+", p).group(1)) for p in images) == [10, 20]
    assert {"config.json", "triptych.png"} <= {a.path for a in client.list_artifacts(run.info.run_id)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not JSON"),
        ('["a"]', "expected a JSON object"),
        ('{"content": {"count": 3}}', "not a config of this task (unknown 'content'"),
        ('{"data": {"num_backgrounds": "many"}}', "config key 'data.num_backgrounds' expects int"),
    ],
)
def test_bad_config_files_get_one_line(text, message, tmp_path, capsys):
    bad = tmp_path / "config.json"
    bad.write_text(text)
    assert train_main(["--config", str(bad), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "x").exists()


def test_bad_tracking_uri_of_a_single_run_fails_before_training(tmp_path, capsys):
    args = ["--scale", "smoke", "--out", str(tmp_path / "x"), "--tracking-uri", "sqlite:////no/such/dir/m.db"]
    assert train_main(args) == 2
    err = capsys.readouterr().err
    assert "not writable" in err and err.count("\n") == 1 and not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("verbosity", "ours", "theirs"), [(0, "INFO", "WARNING"), (1, "DEBUG", "INFO"), (-1, "WARNING", "ERROR")]
)
def test_log_levels_ours_and_third_parties(verbosity, ours, theirs):
    setup_logging(verbosity)
    try:
        assert logging.getLevelName(logging.getLogger("derain.engine.loop").getEffectiveLevel()) == ours
        assert logging.getLevelName(logging.getLogger("sweeps").getEffectiveLevel()) == ours
        assert logging.getLevelName(logging.getLogger("mlflow.store").getEffectiveLevel()) == theirs
    finally:
        setup_logging(0)


def test_threads_must_be_positive(tmp_path, capsys):
    assert train_main(["--scale", "smoke", "--threads", "0", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--threads must be >= 1, got 0" in err and err.count("\n") == 1 and not (tmp_path / "x").exists()
