"""Ensemble trials (DESIGN §7): grid points that share a model and a schedule train as members of one Tune
trial (``derain.engine.ensemble``), while everything a researcher reads stays one run per member.

A Tune ensemble trial's config is ``{"members": [params_0, params_1, ...]}``; its results carry member k's
metrics as ``m<k>/<key>`` (its own ``train/step`` included) beside the shared node keys; its checkpoint folder
holds one single-run folder per member, ``m<k>/``. Member k's id is ``<trial id>.m<k>``: its MLflow child is
tagged with it, and the summary and ``analysis.load_ray`` give it a row of its own. Ray-free on purpose: the
summary and ``analysis`` read it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from typing import Any

import pandas as pd

from derain.keys import TRAIN_STEP

MEMBERS = "members"  # the config key of an ensemble trial
_OWN = re.compile(r"^m(\d+)/")


def member_params(config: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The members' params of an ensemble trial's config; None for a trial of its own."""
    members = config.get(MEMBERS)
    return [dict(p) for p in members] if isinstance(members, list | tuple) else None


def member_id(trial_id: str, k: int) -> str:
    """Member ``k``'s id (its MLflow child's trial tag, its row's ``trial_id``)."""
    return f"{trial_id}.m{k}"


def folder(k: int) -> str:
    """Member ``k``'s run folder inside its ensemble's checkpoint."""
    return f"m{k}"


def prefixed(k: int, metrics: dict[str, Any]) -> dict[str, Any]:
    """Member ``k``'s metrics as its ensemble reports them."""
    return {f"m{k}/{key}": value for key, value in metrics.items()}


def member_metrics(result: dict[str, Any], k: int) -> dict[str, Any]:
    """Member ``k``'s own keys of an ensemble's result, unprefixed, with the shared ones (node keys, ...)."""
    own = {key.split("/", 1)[1]: v for key, v in result.items() if key.startswith(f"m{k}/")}
    shared = {key: v for key, v in result.items() if not _OWN.match(key) and key not in own}
    return {**shared, **own}


def group(points: list[dict[str, Any]], key: Callable[[dict], Hashable], size: int) -> list[list[dict[str, Any]]]:
    """Points with equal ``key`` in ensembles of at most ``size`` members, as even as can be (sizes differ by
    at most one), in the points' order; points of different keys never share one."""
    by_key: dict[Hashable, list[dict]] = {}
    for point in points:
        by_key.setdefault(key(point), []).append(point)
    ensembles = []
    for same in by_key.values():
        count = -(-len(same) // size)
        ensembles += [same[i * len(same) // count : (i + 1) * len(same) // count] for i in range(count)]
    return ensembles


def failed_members(results: Any) -> tuple[int, int]:
    """(members, failed members) of the finished ensemble trials among Tune's ``results`` (a ``ResultGrid``:
    each with ``config``, ``metrics`` - its last report - and ``error``)."""
    runs = lost = 0
    for r in results:
        members = member_params(r.config or {})
        if members is not None and r.error is None:
            runs += len(members)
            lost += sum(f"m{k}/diverged_step" in (r.metrics or {}) for k in range(len(members)))
    return runs, lost


def config_columns(params: dict[str, Any]) -> dict[str, Any]:
    """A member's params as Tune's frame flattens a trial's config: ``config/<key>``, a dict value (an
    explicit ``point``) as ``config/<key>/<inner key>``."""
    columns = {}
    for key, value in params.items():
        if isinstance(value, dict):
            columns.update({f"config/{key}/{inner}": v for inner, v in value.items()})
        else:
            columns[f"config/{key}"] = value
    return columns


def member_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Tune's trial frame (a row per trial, its last result) with each ensemble's row made a row per member:
    ``trial_id`` the member's id, its ``config/`` columns and its metrics unprefixed. Other rows unchanged."""
    column = f"config/{MEMBERS}"
    if column not in frame:
        return frame
    rows = []
    for row in frame.to_dict("records"):
        params = row.get(column)
        if not isinstance(params, list | tuple):
            rows.append({k: v for k, v in row.items() if k != column and not _OWN.match(k)})
            continue
        base = {k: v for k, v in row.items() if not k.startswith("config/") and not _OWN.match(k)}
        for k, p in enumerate(params):
            own = {c.split("/", 1)[1]: v for c, v in row.items() if c.startswith(f"m{k}/")}
            rows.append({**base, **config_columns(p), **own, "trial_id": member_id(row["trial_id"], k)})
    return pd.DataFrame(rows)


def member_histories(trial_id: str, config: dict, history: pd.DataFrame) -> list[tuple[str, dict, pd.DataFrame]]:
    """(id, params, history) per member of a trial's result history (a row per report); a trial of its own is
    its single member."""
    params = member_params(config)
    if params is None:
        return [(trial_id, config, history)]
    out = []
    for k, p in enumerate(params):
        own = {c: c.split("/", 1)[1] for c in history.columns if c.startswith(f"m{k}/")}
        shared = [c for c in history.columns if not _OWN.match(c) and c not in own.values()]
        frame = history[shared + list(own)].rename(columns=own)
        reported = frame.dropna(subset=[TRAIN_STEP]) if TRAIN_STEP in frame else frame  # its own reports only
        out.append((member_id(trial_id, k), p, reported))
    return out
