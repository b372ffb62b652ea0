"""The task registry (derain.tasks): every task builds, checks, seeds and trains its own configs."""

from __future__ import annotations

import pytest
import torch

from derain.config import SCALE_NAMES, flatten
from derain.errors import ConfigError
from derain.tasks import TASKS, task_of

SHORT = {"train.iterations": 4, "train.eval_every": 4}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_a_task_builds_checks_and_recognises_its_configs(name):
    kind = TASKS[name]
    assert isinstance(kind.blank(), kind.config_type) and kind.default_scale() in SCALE_NAMES
    for scale in SCALE_NAMES:
        cfg = kind.make(scale, {kind.seed_key: 7})
        assert task_of(cfg) is kind and flatten(cfg)[kind.seed_key] == 7
    assert kind.preset("smoke", {"train.iterations": 0}).train.iterations == 0  # a view: no range checks
    with pytest.raises(ConfigError, match=r"train\.iterations"):
        kind.make("smoke", {"train.iterations": 0})


@pytest.mark.parametrize("name", sorted(TASKS))
def test_a_task_trains_through_its_registry_entry(name):
    kind = TASKS[name]
    cfg = kind.make("smoke", SHORT)
    metrics = kind.fit(cfg, device="cpu")
    assert metrics["train/step"] == 4 and "eval/yardstick/e_r" in metrics
    parts = kind.build(cfg, torch.device("cpu"))
    assert parts.model is not None and kind.shape(cfg) == kind.shape(kind.make("smoke", {**SHORT, "seed": 3}))


def test_anything_else_is_no_task_config():
    with pytest.raises(TypeError, match="not a task config: dict"):
        task_of({"content": {}})
