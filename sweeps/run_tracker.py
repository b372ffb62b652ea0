"""MLflow tracking of a single run (``python -m derain.train --tracking-uri ...``), laid out as a sweep child:
the flattened config as params, every evaluation's metrics at its step, the snapshot images, the checkpoint
tag, the commit, then config.json and the figure as artifacts. Registered as the ``mlflow`` entry point of
``derain.trackers``; derain loads it by name and never imports MLflow.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from derain.config.schema import flatten
from derain.engine.loop import CHECKPOINT, CONFIG, FIGURE
from sweeps.mlflow_layout import experiment_id, log_metrics, log_params, log_snapshots, tag_checkpoint
from sweeps.names import label
from sweeps.preflight import check_tracking, git_commit
from sweeps.results import GIT_TAG

SINGLE_TAG = "derain.single_run"  # "true" on runs of the single-run CLIs (sweep children have derain.trial_id)


class MlflowRunTracker:
    """One MLflow run for one single run; checks the store when made, so a bad URI fails before training."""

    def __init__(self, uri: str, experiment: str) -> None:
        check_tracking(uri)
        self.client, self.uri, self.experiment = MlflowClient(uri), uri, experiment
        self.run_id: str | None = None
        self.last_image = -1.0

    def start(self, task: str, config: dict[str, Any], overrides: dict[str, Any]) -> None:
        """Open the run, named from the overrides (``N64-small``) or the time, with the config as params."""
        exp = experiment_id(self.client, self.uri, self.experiment)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        name = "-".join(label(k, v) for k, v in overrides.items()) or f"single-{stamp}"
        tags = {GIT_TAG: git_commit(), SINGLE_TAG: "true"}
        self.run_id = self.client.create_run(exp, run_name=name[:120], tags=tags).info.run_id
        log_params(self.client, self.run_id, {"task": task, **flatten(config)})

    def on_eval(self, step: int, metrics: dict[str, float], run_dir: Path) -> None:
        """Log the evaluation's metrics at ``step``, its snapshot image and the checkpoint it left."""
        log_metrics(self.client, self.run_id, metrics, step, [])
        self.last_image = log_snapshots(self.client, self.run_id, run_dir, self.last_image)
        if (run_dir / CHECKPOINT).exists():
            tag_checkpoint(self.client, self.run_id, str(run_dir.resolve()))

    def finish(self, status: str, run_dir: Path) -> None:
        """Attach config.json and the figure, then close the run as ``status`` (FINISHED or FAILED)."""
        for name in (CONFIG, FIGURE):
            if (run_dir / name).exists():
                self.client.log_artifact(self.run_id, str(run_dir / name))
        self.client.set_terminated(self.run_id, status=status)
