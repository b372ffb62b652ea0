"""Scale presets (DESIGN §8) as data: named override mappings applied before the user's overrides.

``smoke``: seconds, for tests. ``cpu``: the default without a GPU; one 2D trial in under 3 minutes on one
core of a 2-core machine. ``gpu``: minutes per trial on one GPU. ``paper``: the seed paper's setting
(128-px crops, ResNet 16x64, L1, Adam 2e-4, 120k iterations, batch 16).

``make_config`` is the one builder of a runnable 2D config: preset, overrides, then every range checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from derain.config.schema import Config, with_overrides
from derain.config.validation import validate_config
from derain.errors import ConfigError

SCALE_NAMES = ("smoke", "cpu", "gpu", "paper")  # every task's presets use these names, in this order
SMALL_SCALES = ("smoke", "cpu")  # short trials: small models, several per GPU, claims decided only partly

SCALES: dict[str, dict[str, Any]] = {
    "smoke": {
        "data.patch_size": 32,
        "data.pool_size": 256,
        "data.num_backgrounds": 16,
        "data.eval_images": 4,
        "data.heldout_images": 8,
        "model.width": 8,
        "model.depth": 2,
        "model.levels": 2,
        "model.window": 4,
        "model.heads": 2,
        "train.iterations": 20,
        "train.batch_size": 4,
        "train.eval_every": 10,
        "train.log_every": 10,
        "train.lr": 1e-3,
        "prior.codebook_size": 32,
        "prior.embed_dim": 8,
        "prior.pretrain_iterations": 20,
        "prior.pretrain_batch": 4,
        "prior.pretrain_source": "smooth",
    },
    # Why these numbers: at 48 px a 128-px streak (25-55 px) becomes 9-21 px, still several times the
    # widths, so rain types stay distinguishable; a 4-block x 32-channel ResNet (85k parameters) runs about
    # 80 ms per batch of 8 on one core in fp32 (25 ms in bf16 on a CPU with AMX: train.amp), so 1500
    # iterations (12k samples) plus four evaluations of 16 images x 10 sets fit in under 3 minutes. The higher
    # learning rate (5e-4) compensates for the short schedule; with it the seen-rain removal reaches a level
    # where the seen/unseen gap is readable.
    # The content prior (taming layout, 32/64 channels, 3 levels) costs ~0.27 s per pre-training step of 8
    # patches on one core, so it gets 500 steps (about 2.5 minutes, once per prior thanks to the store).
    "cpu": {
        "data.patch_size": 48,
        "data.pool_size": 2048,
        "data.eval_images": 16,
        "model.width": 32,
        "model.depth": 4,
        "model.levels": 2,
        "model.window": 8,
        "model.heads": 4,
        "train.iterations": 1500,
        "train.batch_size": 8,
        "train.lr": 5e-4,
        "train.eval_every": 500,
        "train.log_every": 100,
        "prior.codebook_size": 128,
        "prior.embed_dim": 16,
        "prior.pretrain_iterations": 500,
        "prior.pretrain_batch": 8,
        "prior.restart_every": 50,
    },
    "gpu": {
        "data.patch_size": 128,
        "data.pool_size": 4096,
        "data.eval_images": 32,
        "model.width": 64,
        "model.depth": 16,
        "model.levels": 3,
        "model.window": 8,
        "model.heads": 4,
        "train.iterations": 20000,
        "train.batch_size": 16,
        "train.lr": 2e-4,
        "train.eval_every": 2000,
        "train.log_every": 200,
    },
    "paper": {
        "data.patch_size": 128,
        "data.pool_size": 8192,
        "data.eval_images": 64,
        "data.heldout_images": 256,
        "model.name": "resnet",
        "model.width": 64,
        "model.depth": 16,
        "train.iterations": 120000,
        "train.batch_size": 16,
        "train.lr": 2e-4,
        "train.loss": "l1",
        "train.eval_every": 10000,
        "train.log_every": 1000,
    },
}


def preset_config(scale: str | None, overrides: Mapping[str, Any] | None = None, base: Config | None = None) -> Config:
    """``base`` (default Config()) with the scale preset (None: none), then ``overrides`` (which win).

    Keys and types are checked, ranges are not: for views of a config (e.g. MLflow params), not for running.
    """
    if scale is not None and scale not in SCALES:
        raise ConfigError(f"unknown scale '{scale}' (known: {', '.join(SCALES)})")
    merged = {**SCALES.get(scale, {}), **dict(overrides or {})}
    return with_overrides(base or Config(), merged)


def make_config(scale: str | None, overrides: Mapping[str, Any] | None = None, base: Config | None = None) -> Config:
    """A runnable config: ``preset_config`` with every range and combination checked.

    Raises:
        ConfigError: naming the key of an unknown key, a wrong type or an out-of-range value.
        DataError: for a folder source that does not exist or holds no image.
    """
    return validate_config(preset_config(scale, overrides, base))
