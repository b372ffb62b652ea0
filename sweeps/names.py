"""Readable trial names built from the values a trial was given, e.g. ``N64-photos-small+medium-vq-t3``.

Tune names trials with them (``trial_name_creator``), so the terminal table, Ray's trial folders' logs and the
MLflow child runs show the same name. The suffix keeps names unique even when a search draws the same values
twice: ``t<index>`` for a grid's trials (Tune numbers them), Tune's own 8-hex-digit id for a searcher's (the
id its tables and folders show too).
"""

from __future__ import annotations

import re
from typing import Any

from sweeps.members import member_params

# Axis -> prefix before its value; axes not listed print as <last part of the key><value>, and values of the
# axes listed with "" print alone (a source, a rain type and a prior kind are recognisable by themselves).
LABELS = {
    "data.num_backgrounds": "N",
    "content.count": "M",
    "content.terms": "K",
    "seed": "s",
    "data.sharpness_bin": "bin-",
    "model.width": "w",
    "model.depth": "d",
    "data.source": "",
    "data.eval_source": "eval-",
    "rain.train": "",
    "noise.train": "",
    "streaks.train": "",
    "prior.kind": "",
    "model.name": "",
}
MAX_LENGTH = 120  # MLflow shows about this much of a run name


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def label(key: str, value: Any) -> str:
    """One axis value as a name part: ``N64``, ``photos``, ``lr0.0003``."""
    prefix = LABELS.get(key, key.split(".")[-1])
    return f"{prefix}{_value(value)}"


def values_name(params: dict[str, Any], task: str = "") -> str:
    """The values part of a name, ``N64-photos-small+medium-vq`` (an explicit ``point`` is unpacked)."""
    values = dict(params)
    point = dict(values.pop("point", None) or {})
    point.pop("task", None)
    parts = [label(k, v) for k, v in {**point, **values}.items()]
    return "-".join(p for p in parts if p)[:MAX_LENGTH] or task or "trial"


def trial_name(params: dict[str, Any], trial_id: str, task: str = "") -> str:
    """``<values>-<t index | Tune id>`` from a trial's params and its Tune id."""
    numbered = re.search(r"_(\d+)$", trial_id)  # grid trials: <experiment>_00003; searched ones: a hex id
    suffix = f"t{int(numbered.group(1))}" if numbered else trial_id
    return f"{values_name(params, task)}-{suffix}"


def member_name(params: dict[str, Any], trial_id: str, k: int, task: str = "") -> str:
    """Member ``k`` of an ensemble trial: its own values, its ensemble's suffix and ``.m<k>``."""
    return f"{trial_name(params, trial_id, task)}.m{k}"


class NameCreator:
    """Tune's ``trial_name_creator`` (picklable: Tune stores it with the experiment for ``--resume``)."""

    def __init__(self, task: str) -> None:
        self.task = task

    def __call__(self, trial: Any) -> str:
        members = member_params(dict(trial.config))
        params = {"ensemble": len(members)} if members is not None else dict(trial.config)
        return trial_name(params, trial.trial_id, self.task)
