"""MLflow runs as this project lays them out, shared by sweep children (``tracking``) and single runs
(``run_tracker``): the experiment (tagged as model training, artifacts beside a sqlite store), the per-evaluation
snapshot images, the checkpoint tag and the sweep's result tables.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from PIL import Image

from derain.engine.loop import CHECKPOINT, SAMPLES
from derain.keys import LOGGED_PREFIXES
from sweeps.results import CHECKPOINT_TAG, IMAGE_STEP_TAG, KIND_TAG, TRAINING_KIND, parent_run, sqlite_path

SNAPSHOT_KEY = "yardstick"  # the image key in MLflow: degraded | output | clean of one held-out yardstick image


def finite_number(value: Any) -> bool:
    """A real, finite number (not a bool): what MLflow can store as a metric or a step."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def log_params(client: MlflowClient, run_id: str, params: dict[str, Any]) -> None:
    """Params within MLflow's caps: each value cut to 6000 characters, 100 params per batch."""
    items = [Param(k, str(v)[:6000]) for k, v in params.items()]
    for i in range(0, len(items), 100):
        client.log_batch(run_id, params=items[i : i + 100])


def log_metrics(client: MlflowClient, run_id: str, values: dict[str, Any], step: int, tags: list[RunTag]) -> None:
    """The metrics of ``values`` this project logs (its namespaced keys, finite numbers) at ``step``, 1000 per
    batch (MLflow's cap), ``tags`` with the first batch; nothing at all when no metric is left."""
    now = int(time.time() * 1000)
    logged = [
        Metric(k, float(v), now, step) for k, v in values.items() if k.startswith(LOGGED_PREFIXES) and finite_number(v)
    ]
    for i in range(0, len(logged), 1000):
        client.log_batch(run_id, metrics=logged[i : i + 1000], tags=tags if i == 0 else [])


def _artifact_root(uri: str, experiment: str) -> str | None:
    """File artifact location beside a sqlite database; None (server default) for other stores."""
    database = sqlite_path(uri)
    return (database.parent / "mlartifacts" / experiment).resolve().as_uri() if database else None


def experiment_id(client: MlflowClient, uri: str, name: str) -> str:
    """The experiment's id (made if missing), tagged as a model-training experiment."""
    exp = client.get_experiment_by_name(name)
    if exp is None:
        return client.create_experiment(name, _artifact_root(uri, name), tags={KIND_TAG: TRAINING_KIND})
    if exp.tags.get(KIND_TAG) != TRAINING_KIND:
        client.set_experiment_tag(exp.experiment_id, KIND_TAG, TRAINING_KIND)
    return exp.experiment_id


def log_summary(uri: str, experiment: str, sweep: str, title: str, rows: Any) -> None:
    """Attach the final summary table (Pareto set or best trials) to the sweep's parent run: a CSV, an MLflow
    table, and its title as a tag."""
    client = MlflowClient(uri)
    parent = parent_run(client, experiment, sweep)
    if parent is None:
        return
    run_id = parent.info.run_id
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "summary.csv"
        rows.to_csv(path, index=False)
        client.log_artifact(run_id, str(path))
    if len(rows):  # a table MLflow shows in the run's Artifacts and in the experiment's evaluation view
        client.log_table(run_id, data=rows.reset_index(drop=True), artifact_file="summary_table.json")
    client.set_tag(run_id, "summary", title)


def log_snapshots(client: MlflowClient, run_id: str, folder: Path, after_step: float) -> float:
    """Log every ``samples/step_*.png`` in a run folder newer than ``after_step`` as an MLflow image with its
    step (the UI's slider over training, and side by side across runs); returns the newest step logged."""
    newest = after_step
    for png in sorted((folder / SAMPLES).glob("step_*.png")):
        step = int(png.stem.removeprefix("step_"))
        if step > after_step:
            with Image.open(png) as image:
                client.log_image(run_id, image.copy(), key=SNAPSHOT_KEY, step=step)
            newest = max(newest, step)
    if newest > after_step:
        client.set_tag(run_id, IMAGE_STEP_TAG, str(int(newest)))
    return newest


def tag_checkpoint(client: MlflowClient, run_id: str, folder: str) -> None:
    """Point the run at its newest checkpoint file (a path on the storage every node sees)."""
    client.set_tag(run_id, CHECKPOINT_TAG, str(Path(folder) / CHECKPOINT))
