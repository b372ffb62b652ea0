"""Range, name and combination checks of a whole 2D ``Config``; errors name the config key.

Run by ``derain.config.presets.make_config``, the one place that builds a runnable config, before any work starts.
"""

from __future__ import annotations

from pathlib import Path

from derain.config.checks import check_bounds, check_choice
from derain.config.schema import Config, TrainConfig
from derain.data.banks import COUNT_UNITS, SHARPNESS_BINS
from derain.data.sources import BUILTIN, first_usable_image, known_sources
from derain.degradations import FAMILIES, custom_degradation, training_degradation
from derain.engine.loop import LOSSES, SCHEDULES
from derain.errors import ConfigError, DerainError
from derain.models import check_model
from derain.prior import KINDS

CHOICES = {  # each from the registry or the code that implements the choice
    "degradation": FAMILIES,
    "data.count_unit": COUNT_UNITS,
    "data.sharpness_bin": SHARPNESS_BINS,
    "data.channels": (1, 3),
    "train.loss": tuple(LOSSES),
    "train.schedule": SCHEDULES,
    "prior.kind": KINDS,
}


def _choice(key: str, value: object) -> None:
    check_choice(key, value, CHOICES[key])


def _check_source(source: str, patch_size: int, key: str = "data.source") -> None:
    if source.startswith("folder:"):  # opens images until one is usable at this patch size (cached per folder)
        first_usable_image(source.removeprefix("folder:"), patch_size)
    elif source not in BUILTIN:
        raise ConfigError(f"{key}='{source}' is unknown (known: {', '.join(known_sources())})")


def _check_data(cfg: Config) -> None:
    d = cfg.data
    for key in ("data.count_unit", "data.sharpness_bin", "data.channels"):
        _choice(key, getattr(d, key.split(".")[1]))
    check_bounds("data.patch_size", d.patch_size, 8, 4096)
    check_bounds("data.num_backgrounds", d.num_backgrounds, 1, 10**7)
    check_bounds("data.pool_size", d.pool_size, 1, 10**7)
    check_bounds("data.eval_images", d.eval_images, 1, 10**5)
    check_bounds("data.heldout_images", d.heldout_images, 1, 10**5)
    check_bounds("data.heldout_fraction", d.heldout_fraction, 0, 1, lo_open=True, hi_open=True)
    check_bounds("data.complexity", d.complexity, 0, 1)
    check_bounds("data.degrade_probability", d.degrade_probability, 0, 1)
    if d.count_unit == "patches" and d.num_backgrounds > d.pool_size:
        raise ConfigError(f"data.num_backgrounds={d.num_backgrounds} exceeds data.pool_size={d.pool_size}")
    tercile = d.pool_size // 3
    if d.count_unit == "patches" and d.sharpness_bin != "all" and d.num_backgrounds > tercile:
        raise ConfigError(
            f"data.num_backgrounds={d.num_backgrounds} exceeds the {tercile} patches of one "
            f"sharpness tercile of data.pool_size={d.pool_size}"
        )
    _check_source(d.source, d.patch_size)
    if d.eval_source:
        _check_source(d.eval_source, d.patch_size, "data.eval_source")


def _check_degradation(cfg: Config) -> None:
    # Both families, though one trains: a typo in the other is still a typo, and caught before work starts.
    for family in FAMILIES:
        try:
            custom_degradation(cfg, family)
        except ConfigError as err:
            raise ConfigError(f"{family}.custom_{err.field}: {err.detail}") from None
        try:
            training_degradation(cfg, family)
        except DerainError as err:
            raise ConfigError(f"{family}.train: {err}") from None


def check_train(t: TrainConfig) -> None:
    """Ranges of a ``TrainConfig`` (shared by the 2D and 1D tasks)."""
    for key in ("train.loss", "train.schedule"):
        _choice(key, getattr(t, key.split(".")[1]))
    for key in ("iterations", "batch_size", "eval_every", "log_every", "eval_batch"):
        check_bounds(f"train.{key}", getattr(t, key), 1, 10**9)
    check_bounds("train.lr", t.lr, 0, 10, lo_open=True)
    check_bounds("train.gamma", t.gamma, 0, 1, lo_open=True)
    check_bounds("train.grad_clip", t.grad_clip, 0, 1e9)
    for m in t.milestones:
        check_bounds("train.milestones", m, 0, 1, lo_open=True, hi_open=True)


def _check_prior(cfg: Config) -> None:
    p = cfg.prior
    _choice("prior.kind", p.kind)
    for key in ("codebook_size", "embed_dim", "width", "levels", "res_blocks", "pretrain_iterations", "pretrain_batch"):
        check_bounds(f"prior.{key}", getattr(p, key), 1, 10**7)
    if p.width % 32:
        raise ConfigError(f"prior.width={p.width} must be a multiple of 32 (GroupNorm with 32 groups)")
    check_bounds("prior.pretrain_lr", p.pretrain_lr, 0, 10, lo_open=True)
    check_bounds("prior.gan_start", p.gan_start, 0, 1)
    check_bounds("prior.skip", p.skip, 0, 1e3)
    if p.pretrain_source != "generic":
        _check_source(p.pretrain_source, cfg.data.patch_size, "prior.pretrain_source")
    if p.checkpoint and not Path(p.checkpoint).expanduser().is_file():
        raise ConfigError(f"prior.checkpoint '{p.checkpoint}' does not exist (nothing is downloaded)")
    if p.kind != "none" and not p.checkpoint and cfg.data.patch_size % 2 ** (p.levels - 1):
        raise ConfigError(f"data.patch_size={cfg.data.patch_size} must be a multiple of 2**(prior.levels-1)")


def validate_config(cfg: Config) -> Config:
    """``cfg`` unchanged; ConfigError (or DataError for folders) naming its first invalid field."""
    _choice("degradation", cfg.degradation)
    _check_data(cfg)
    _check_degradation(cfg)
    check_model(cfg.model)
    check_train(cfg.train)
    _check_prior(cfg)
    return cfg
