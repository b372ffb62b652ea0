"""Read-only inputs shared between trials through Ray's object store instead of rebuilt per trial.

``BankStore`` is an actor that builds each distinct candidate/held-out patch bank once per sweep and hands
out object refs; trials ``ray.get`` them as zero-copy read-only numpy views (``shared_banks``).
"""

from __future__ import annotations

from typing import Any

import ray

from derain.cli.common import worker_logging
from derain.config.schema import Config
from derain.data.banks import PatchBank, banks_for, candidate_banks


@ray.remote(num_cpus=0)
class BankStore:
    """Build each (source, patch size, channels, seed, pool size, complexity, held-out fraction, eval count)
    bank pair once; calls are serialised, so concurrent trials asking for the same banks wait for one build."""

    def __init__(self) -> None:
        worker_logging()  # bank building can take a minute: its progress lines reach the driver
        self._refs: dict[tuple, list[Any]] = {}

    def get(self, key: tuple) -> list[Any]:
        if key not in self._refs:
            pool, heldout = candidate_banks(*key)
            self._refs[key] = [ray.put(pool.to_numpy()), ray.put(heldout.to_numpy())]
        return self._refs[key]


def shared_banks(store: Any, cfg: Config) -> tuple[PatchBank, PatchBank] | None:
    """The (candidate, held-out) banks of ``cfg.data`` from ``store`` (a BankStore handle); None without one."""
    if store is None:
        return None

    def fetch(key: tuple) -> tuple[PatchBank, PatchBank]:
        pool, heldout = ray.get(ray.get(store.get.remote(key)))
        return PatchBank.from_numpy(pool), PatchBank.from_numpy(heldout)

    return banks_for(cfg.data, get=fetch)
