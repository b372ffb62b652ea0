"""MLflow tracking from the driver (DESIGN §8): one parent run per sweep, one child run per trial.

Only the driver writes (a Tune ``Callback``), so a sqlite store is safe and worker nodes need no MLflow
access. The writes happen on one background thread, in order, so MLflow latency never stalls Tune's
scheduling loop; the sweep's end waits for the queue to drain. Runs are found again by tags (``derain.sweep``
on the parent, ``derain.trial_id`` on children), so a resumed sweep reuses its parent and never duplicates a
child, and steps already logged are not logged twice.
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlflow.entities import RunTag
from mlflow.tracking import MlflowClient
from ray.tune import Callback

from derain.engine.loop import CONFIG, FIGURE
from derain.errors import one_line
from derain.keys import TRAIN_STEP
from sweeps.members import folder, member_id, member_metrics, member_params
from sweeps.mlflow_layout import experiment_id, finite_number, log_metrics, log_params, log_snapshots, tag_checkpoint
from sweeps.names import member_name
from sweeps.results import (
    CHILD_TAG,
    ENSEMBLE_TAG,
    GIT_TAG,
    IMAGE_STEP_TAG,
    NODE_KEYS,
    PARENT_TAG,
    PRECISION_KEY,
    PRECISION_TAG,
    STOPPED_STEP_TAG,
    STOPPED_TAG,
    SWEEP_TAG,
    TRIAL_TAG,
    node_tag,
    parent_run,
    tag_equals,
)

log = logging.getLogger(__name__)

ARTIFACTS = (CONFIG, FIGURE)


class MlflowSweepCallback(Callback):
    """Mirror a Tune sweep into MLflow. Picklable (Tune stores it with the experiment for ``--resume``)."""

    def __init__(
        self, uri: str, experiment: str, sweep: str, parent_tags: dict[str, str], trial_params: Any, final_step: int = 0
    ):
        self.uri, self.experiment, self.sweep = uri, experiment, sweep
        self.parent_tags = parent_tags
        self.trial_params = trial_params  # callable: Tune trial config -> flattened run params
        self.final_step = final_step  # a trial that ends before this step was stopped early by the scheduler
        self._client: MlflowClient | None = None
        self.parent_id: str | None = None
        self._children: dict[str, str] = {}  # trial id -> run id
        self._last_step: dict[str, float] = {}
        self._last_image: dict[str, float] = {}
        self._queue: queue.Queue | None = None
        self.failed_writes, self.first_failure = 0, ""

    def __getstate__(self) -> dict:
        empty = {"_children": {}, "_last_step": {}, "_last_image": {}}
        return {**self.__dict__, "_client": None, "_queue": None, **empty}

    def _submit(self, job: Callable[[], None]) -> None:
        """Run ``job`` on the writer thread (started on first use), after every job submitted before it."""
        if self._queue is None:
            self._queue = queue.Queue()
            threading.Thread(target=self._drain, args=(self._queue,), daemon=True, name="mlflow-writer").start()
        self._queue.put(job)

    def _drain(self, jobs: queue.Queue) -> None:
        while True:
            job = jobs.get()
            try:
                job()
            except Exception as err:  # noqa: BLE001 - counted, the first one named, reported once at the end
                self.failed_writes += 1
                if self.failed_writes == 1:
                    self.first_failure = one_line(err)
                    log.warning("MLflow write failed (%s); the sweep goes on, failures are counted", self.first_failure)
            finally:
                jobs.task_done()

    def flush(self) -> None:
        """Block until every submitted write is done."""
        if self._queue is not None:
            self._queue.join()

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self._client = MlflowClient(self.uri)
        return self._client

    def ensure_parent(self) -> str:
        """The sweep's parent run id, created on first use, found again by tag on resume."""
        if self.parent_id:
            return self.parent_id
        exp = experiment_id(self.client, self.uri, self.experiment)
        found = parent_run(self.client, self.experiment, self.sweep)
        if found:
            self.parent_id = found.info.run_id
            self.client.update_run(self.parent_id, status="RUNNING")
        else:
            tags = {**self.parent_tags, SWEEP_TAG: self.sweep}
            self.parent_id = self.client.create_run(exp, run_name=self.sweep, tags=tags).info.run_id
        return self.parent_id

    def setup(self, **info: Any) -> None:
        self._submit(self.ensure_parent)

    def child(self, trial: Any) -> str:
        """Run id of ``trial``'s child run: the existing one (by tag) or a new one with the trial's params."""
        if trial.trial_id in self._children:
            return self._children[trial.trial_id]
        parent = self.ensure_parent()
        exp = self.client.get_run(parent).info.experiment_id
        query = f"{tag_equals(TRIAL_TAG, trial.trial_id)} and {tag_equals(PARENT_TAG, parent)}"
        found = self.client.search_runs([exp], query, max_results=1)
        if found:
            run_id = found[0].info.run_id
            self._last_step[run_id] = found[0].data.metrics.get(TRAIN_STEP, -1)
            self._last_image[run_id] = float(found[0].data.tags.get(IMAGE_STEP_TAG, -1))
            self.client.update_run(run_id, status="RUNNING")
        else:
            tags = {PARENT_TAG: parent, TRIAL_TAG: trial.trial_id, CHILD_TAG: self.sweep, **trial.tags}
            tags.update({GIT_TAG: self.parent_tags[GIT_TAG]} if GIT_TAG in self.parent_tags else {})
            run_id = self.client.create_run(exp, run_name=str(trial), tags=tags).info.run_id
            log_params(self.client, run_id, self.trial_params(trial.config))
        self._children[trial.trial_id] = run_id
        return run_id

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        for view in _TrialView.of(trial):
            self._submit(functools.partial(self.child, view))

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        for view in _TrialView.of(trial):
            self._submit(functools.partial(self._log_result, view, view.own(result)))

    def _log_result(self, trial: Any, result: dict) -> None:
        run_id = self.child(trial)
        step = result.get(TRAIN_STEP)
        if not finite_number(step) or step <= self._last_step.get(run_id, -1):
            return  # re-reported after a resume: already in MLflow
        self._last_step[run_id] = step
        tags = [RunTag(node_tag(k), str(result[k])) for k in NODE_KEYS if k in result]
        tags += [RunTag(PRECISION_TAG, str(result[PRECISION_KEY]))] if PRECISION_KEY in result else []
        log_metrics(self.client, run_id, result, int(step), tags)

    def on_checkpoint(self, iteration: int, trials: list, trial: Any, checkpoint: Any, **info: Any) -> None:
        for view in _TrialView.of(trial):
            self._submit(functools.partial(self._log_checkpoint, view, view.folder(checkpoint.path)))

    def _log_checkpoint(self, trial: Any, path: str) -> None:
        """The child's checkpoint tag, and the snapshot images of the evaluations this checkpoint adds."""
        run_id = self.child(trial)
        tag_checkpoint(self.client, run_id, path)
        if Path(path).is_dir():  # a local or shared folder; object-store checkpoints carry no images here
            self._last_image[run_id] = log_snapshots(self.client, run_id, Path(path), self._last_image.get(run_id, -1))

    def _finish(self, trial: Any, status: str, error: str | None = None) -> None:
        run_id = self.child(trial)
        if trial.diverged_step is not None:  # an ensemble's member that failed while the others went on
            status, error = "FAILED", error or f"the loss became non-finite at step {int(trial.diverged_step)}"
        stopped = status == "FINISHED" and trial.step is not None and trial.step < self.final_step
        self.client.set_tag(run_id, "status", "failed" if status == "FAILED" else "stopped" if stopped else "finished")
        if stopped:
            self.client.set_tag(run_id, STOPPED_TAG, "true")
            self.client.set_tag(run_id, STOPPED_STEP_TAG, str(int(trial.step)))
        if error:
            self.client.set_tag(run_id, "error", error[:5000])
        self._log_artifacts(run_id, trial)
        self.client.set_terminated(run_id, status=status)

    def _log_artifacts(self, run_id: str, trial: Any) -> None:
        checkpoint = getattr(trial, "checkpoint", None)
        if checkpoint is None:
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / CONFIG).write_text(json.dumps(self.trial_params(trial.config), indent=2))
                self.client.log_artifact(run_id, str(Path(tmp) / CONFIG))
            return
        with checkpoint.as_directory() as saved:
            for name in ARTIFACTS:
                if (Path(trial.folder(saved)) / name).exists():
                    self.client.log_artifact(run_id, str(Path(trial.folder(saved)) / name))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        for view in _TrialView.of(trial):
            self._submit(functools.partial(self._finish, view, "FINISHED"))

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error_file = getattr(trial, "error_file", None)
        text = Path(error_file).read_text() if error_file and Path(error_file).exists() else "trial errored"
        message = text.strip().splitlines()[-1] if text.strip() else "trial errored"
        for view in _TrialView.of(trial):
            self._submit(functools.partial(self._finish, view, "FAILED", message))

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        failed = sum(t.status == "ERROR" for t in trials)
        known = {t.trial_id for t in trials}

        def close() -> None:
            self._close_lost(known)
            self.client.set_tag(self.ensure_parent(), "trials", f"{len(trials)} ({failed} failed)")
            self.client.set_terminated(self.ensure_parent(), status="FINISHED")

        self._submit(close)
        self.flush()
        if self.failed_writes:
            log.warning("MLflow: %d write(s) failed in this sweep (first: %s)", self.failed_writes, self.first_failure)

    def _close_lost(self, known: set[str]) -> None:
        """Children of trials Tune no longer has (a killed driver started them after its last experiment
        checkpoint; the resumed sweep never runs them) are closed as KILLED and tagged, never left RUNNING."""
        parent = self.ensure_parent()
        exp = self.client.get_run(parent).info.experiment_id
        query = f"{tag_equals(PARENT_TAG, parent)} and attributes.status = 'RUNNING'"
        for run in self.client.search_runs([exp], query):
            if run.data.tags.get(ENSEMBLE_TAG, run.data.tags.get(TRIAL_TAG)) not in known:
                self.client.set_tag(run.info.run_id, "status", "lost")
                self.client.set_terminated(run.info.run_id, status="KILLED")


class _TrialView:
    """What the writer thread needs of one run of a Tune trial (the trial, or one member of an ensemble trial),
    copied when the event happens (the trial moves on)."""

    def __init__(self, trial: Any, name: str, config: dict, result: dict, member: int | None = None):
        self.member = member  # None: the trial is the run
        self.trial_id = trial.trial_id if member is None else member_id(trial.trial_id, member)
        self.name, self.config, self.checkpoint = name, config, getattr(trial, "checkpoint", None)
        mine = self.own(result)
        self.step = mine.get(TRAIN_STEP)  # the last reported train/step
        self.diverged_step = mine.get("diverged_step") if member is not None else None
        self.tags = {} if member is None else {ENSEMBLE_TAG: trial.trial_id, "derain.member": str(member)}

    def __str__(self) -> str:
        return self.name

    def own(self, result: dict) -> dict:
        """This run's part of a result of its trial."""
        return result if self.member is None else member_metrics(result, self.member)

    def folder(self, path: str) -> str:
        """This run's folder in a checkpoint of its trial at ``path``."""
        return path if self.member is None else str(Path(path) / folder(self.member))

    @classmethod
    def of(cls, trial: Any) -> list[_TrialView]:
        """A view per run of ``trial``: itself, or each member of an ensemble trial."""
        config, result = dict(trial.config), dict(getattr(trial, "last_result", None) or {})
        members = member_params(config)
        if members is None:
            return [cls(trial, str(trial), config, result)]
        return [cls(trial, member_name(p, trial.trial_id, k), p, result, k) for k, p in enumerate(members)]
