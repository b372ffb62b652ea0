"""Where a sweep's results live and how to find them again: the public contract between the code that
writes a sweep (``sweeps``) and the code that reads it (``analysis``).

- Ray Tune: the experiment folder ``<storage>/<name>``, with the launch settings in ``derain_sweep.json``.
- MLflow: one experiment per space, a parent run per sweep tagged ``derain.sweep``, a child run per trial
  tagged ``derain.trial_id`` (and ``mlflow.parentRunId``), with the Ray node it ran on in ``ray.*`` tags.
- The Pareto set over a sweep's objectives, the same in the terminal summary and in the report's figure, with
  doing nothing (the identity output) as a point of its own, and the trials that do worse than it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from derain.errors import DerainError, redact, without_credentials
from derain.keys import YARDSTICK_MSE, reference_key

SWEEP_TAG = "derain.sweep"  # parent run: the sweep's name
CHILD_TAG = "derain.sweep.child"  # child run: its sweep's name
TRIAL_TAG = "derain.trial_id"  # child run: the Tune trial id (an ensemble's member: <trial id>.m<k>)
ENSEMBLE_TAG = "derain.ensemble_trial"  # an ensemble member's child run: its ensemble's Tune trial id
PARENT_TAG = "mlflow.parentRunId"
GIT_TAG = "mlflow.source.git.commit"  # parent and child runs: the code's commit (MLflow's Version column)
NOTE_TAG = "mlflow.note.content"  # parent run: its description in the UI (the space's hypothesis)
# The experiment's kind (MLflow's "Machine learning" type). In 3.17 the landing page also follows the UI's global
# GenAI / Model-training switch: a link needs ``?workflowType=machine_learning`` to open on the runs table.
KIND_TAG, TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"
SPACE_TAG, SCALE_TAG = "space", "scale"  # parent run: the space and the scale preset
STUDY_TAG = "derain.optuna_storage"  # parent run: the RDB URL of the sweep's Optuna study (sampled spaces)
CHECKPOINT_TAG = "derain.checkpoint"  # child run: its newest checkpoint file, on the sweep's storage
IMAGE_STEP_TAG = "derain.image_step"  # child run: the newest step whose snapshot image is logged
STOPPED_TAG = "derain.stopped_early"  # child run: "true" when the scheduler stopped it before its last step
STOPPED_STEP_TAG = "derain.stopped_step"  # child run: the step it reached then
NODE_KEYS = ("node_id", "hostname", "node_ip")  # reported by trials, logged as node_tag(key) tags
PRECISION_KEY = "precision"  # reported by trials: their training steps' dtype (derain.engine.loop.precision)
PRECISION_TAG = "derain.precision"  # child run: that dtype, which the machine decides (bf16 needs AMX on a CPU)
SETTINGS = "derain_sweep.json"  # launch settings beside Tune's state, for --resume


NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")  # a folder name and an MLflow tag value as is


def check_sweep_name(name: str) -> None:
    """A ``--name`` is one safe path component: letters, digits, ``. _ + -``, at most 100, no leading dot."""
    if not NAME_PATTERN.fullmatch(name):
        raise DerainError(
            f"--name {name!r} is not a valid sweep name: use letters, digits, '.', '_', '+' and '-' "
            "(up to 100, starting with a letter or digit)"
        )


def tag_equals(tag: str, value: str) -> str:
    """An MLflow filter ``tags.`tag` = '<value>'`` quoted for any value stored before names were checked."""
    if "'" not in value:
        return f"tags.`{tag}` = '{value}'"
    if '"' not in value:
        return f'tags.`{tag}` = "{value}"'
    raise DerainError(f"cannot search MLflow for the {tag} value {value!r}: it holds both kinds of quote")


def parent_run(client: Any, experiment: str, sweep: str | None = None) -> Any:
    """The parent run (an MLflow ``Run``) of sweep ``sweep`` in the named experiment, or of its newest sweep
    when ``sweep`` is None; None when the experiment or the sweep is not there (yet). ``client``: an
    ``MlflowClient``; the one lookup that the tracker, the summary, preflight and ``analysis`` all use."""
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return None
    query = tag_equals(SWEEP_TAG, sweep) if sweep else f"tags.`{SWEEP_TAG}` != ''"
    runs = client.search_runs([exp.experiment_id], query, order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0] if runs else None


def default_tracking_uri(cwd: Path | None = None) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<abs cwd>/mlflow.db`` (MLflow 3 refuses ./mlruns)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(cwd or Path.cwd()).resolve() / 'mlflow.db'}"


UI_ADDRESS = "http://127.0.0.1:5000"  # where `mlflow ui` serves by default


def node_tag(key: str) -> str:
    """The child-run tag of a node key (``NODE_KEYS``): ``ray.<key>``."""
    return f"ray.{key}"


def is_uri(storage: str) -> bool:
    """True for a remote storage URI (``s3://``, ``gs://``, ...); False for a path on a mounted file system."""
    return "://" in storage


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (tracking store or Optuna storage); None for any other."""
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def ui_command(uri: str, experiment_id: str | None = None) -> str:
    """How to open the sweep's runs in a browser: the ``mlflow ui`` command for a sqlite store (or the
    server's address), then the experiment's runs table. MLflow 3's UI opens an experiment on its GenAI
    overview unless the link asks for the model-training view. Printed, so no password in it."""
    server = without_credentials(uri.rstrip("/")) if uri.startswith("http") else UI_ADDRESS
    start = "" if uri.startswith("http") else f"mlflow ui --backend-store-uri {redact(uri)}\n  then open "
    if experiment_id is None:
        return f"{start}{server}"
    return f"{start}{server}/#/experiments/{experiment_id}?workflowType=machine_learning"


def parent_note(hypothesis: str, command: str) -> str:
    """The sweep's parent-run description (Markdown in MLflow's UI): the hypothesis, then the command, whose
    URIs' passwords (``--optuna-storage postgresql://user:pw@…``) must not reach everyone who opens the UI."""
    note = hypothesis.strip()
    return f"{note}\n\nLaunched with:\n\n    {redact(command)}" if command else note


def experiment_path(storage: str, name: str) -> str:
    """The Ray Tune experiment folder (or URI) of sweep ``name`` under ``storage``."""
    return f"{storage.rstrip('/')}/{name}"


def pareto_mask(df: pd.DataFrame, metrics: tuple[str, ...], modes: tuple[str, ...]) -> pd.Series:
    """True for rows no other row beats on every metric (and strictly on one)."""
    signed = pd.DataFrame({m: df[m] if mode == "min" else -df[m] for m, mode in zip(metrics, modes, strict=True)})
    values = signed.to_numpy()
    keep = []
    for i in range(len(values)):
        others = np.delete(values, i, axis=0)
        dominated = ((others <= values[i]).all(axis=1) & (others < values[i]).any(axis=1)).any()
        keep.append(not dominated)
    return pd.Series(keep, index=df.index)


IDENTITY = "identity (doing nothing)"  # the reference row's name wherever trials are ranked


def identity_values(df: pd.DataFrame, metrics: tuple[str, ...]) -> dict[str, float]:
    """What doing nothing (output = input) scores on ``metrics``, read from the trials' ``ref/identity/<key>``
    columns (the same exam for every trial: equal in every row); only the metrics that have one."""
    out = {}
    for m in metrics:
        column = reference_key("identity", m)
        if column in df and df[column].notna().any():
            out[m] = float(df[column].dropna().iloc[0])
    return out


def damages_background(df: pd.DataFrame) -> pd.Series:
    """True for trials whose output is further from the clean images than their degraded input: the yardstick's
    whole-image squared error, pooled over the set, above doing nothing's, so the background they damage
    outweighs the rain they remove.

    (Doing nothing leaves the background exactly as it was - e_b = 0 on the untouched pixels - so "worse than
    doing nothing on the background" alone would hold for every network; the net balance is what tells a trial
    that harms the image. Pooled, not a mean of per-image PSNRs: one image the degradation left untouched makes
    doing nothing's PSNR infinite.) False where either number is missing."""
    reference = reference_key("identity", YARDSTICK_MSE)
    if YARDSTICK_MSE not in df or reference not in df:
        return pd.Series(False, index=df.index)
    return (df[YARDSTICK_MSE] > df[reference]).fillna(False).astype(bool)


def front_with_identity(
    df: pd.DataFrame, metrics: tuple[str, ...], modes: tuple[str, ...]
) -> tuple[pd.DataFrame, pd.Series]:
    """(rows of ``df`` on the Pareto front once doing nothing is a point of it, the identity's row or an empty
    Series when the trials carry no reference values): a trial doing nothing dominates is off the front."""
    values = identity_values(df, metrics)
    if len(values) < len(metrics):
        return df[pareto_mask(df, metrics, modes)], pd.Series(dtype=float)
    identity = pd.Series({**values, "trial_id": IDENTITY}, name=IDENTITY)
    both = pd.concat([df, identity.to_frame().T.astype({m: float for m in metrics})])
    mask = pareto_mask(both, metrics, modes)
    return df[mask.iloc[: len(df)].to_numpy()], identity
