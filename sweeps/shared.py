"""Read-only inputs shared between trials through Ray's object store instead of rebuilt per trial.

``BankStore`` is an actor that builds each distinct candidate/held-out patch bank once per sweep and hands
out object refs; trials ``ray.get`` them as zero-copy read-only numpy views.
"""

from __future__ import annotations

from typing import Any

import ray


@ray.remote(num_cpus=0)
class BankStore:
    """Build each (source, patch size, channels, seed, pool size, complexity, held-out fraction, eval count)
    bank pair once; calls are serialised, so concurrent trials asking for the same banks wait for one build."""

    def __init__(self) -> None:
        self._refs: dict[tuple, list[Any]] = {}

    def get(self, key: tuple) -> list[Any]:
        if key not in self._refs:
            from derain.backgrounds import candidate_banks

            pool, heldout = candidate_banks(*key)
            self._refs[key] = [ray.put(pool.to_numpy()), ray.put(heldout.to_numpy())]
        return self._refs[key]
