"""Range and name checks for a whole ``Config``, run before any work; errors name the config key."""

from __future__ import annotations

from derain.config import Config
from derain.errors import ConfigError, DerainError
from derain.sources import BUILTIN, check_folder, known_sources

CHOICES = {
    "degradation": ("rain", "noise"),
    "data.count_unit": ("patches", "images"),
    "data.sharpness_bin": ("all", "low", "mid", "high"),
    "data.channels": (1, 3),
    "train.loss": ("l1", "l2", "charbonnier"),
    "train.schedule": ("multistep", "cosine", "constant"),
    "prior.kind": ("none", "vq"),
}


def _check_choice(key: str, value: object) -> None:
    if value not in CHOICES[key]:
        raise ConfigError(f"{key}={value!r} is not one of {', '.join(map(str, CHOICES[key]))}")


def _check_bounds(key: str, value: float, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False):
    if (value <= lo if lo_open else value < lo) or (value >= hi if hi_open else value > hi):
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ConfigError(f"{key}={value} is outside {left}{lo}, {hi}{right}")


def _check_source(source: str) -> None:
    if source.startswith("folder:"):
        check_folder(source.removeprefix("folder:"))
    elif source not in BUILTIN:
        raise ConfigError(f"data.source='{source}' is unknown (known: {', '.join(known_sources())})")


def _check_data(cfg: Config) -> None:
    d = cfg.data
    for key in ("data.count_unit", "data.sharpness_bin", "data.channels"):
        _check_choice(key, getattr(d, key.split(".")[1]))
    _check_bounds("data.patch_size", d.patch_size, 8, 4096)
    _check_bounds("data.num_backgrounds", d.num_backgrounds, 1, 10**7)
    _check_bounds("data.pool_size", d.pool_size, 1, 10**7)
    _check_bounds("data.eval_images", d.eval_images, 1, 10**5)
    _check_bounds("data.heldout_fraction", d.heldout_fraction, 0, 1, lo_open=True, hi_open=True)
    _check_bounds("data.complexity", d.complexity, 0, 1)
    _check_bounds("data.degrade_probability", d.degrade_probability, 0, 1)
    if d.count_unit == "patches" and d.num_backgrounds > d.pool_size:
        raise ConfigError(f"data.num_backgrounds={d.num_backgrounds} exceeds data.pool_size={d.pool_size}")
    if d.count_unit == "patches" and d.sharpness_bin != "all" and d.num_backgrounds > d.pool_size // 3:
        raise ConfigError(f"data.num_backgrounds={d.num_backgrounds} exceeds the {d.pool_size // 3} patches of one "
                          f"sharpness tercile of data.pool_size={d.pool_size}")  # fmt: skip
    _check_source(d.source)
    if d.eval_source:
        _check_source(d.eval_source)


def _check_degradation(cfg: Config) -> None:
    from derain.data import custom_degradation, training_degradation

    family = "noise" if cfg.degradation == "noise" else "rain"
    try:
        custom_degradation(cfg)
    except ConfigError as err:
        raise ConfigError(f"{family}.custom_{err.field}: {err.detail}") from None
    try:
        training_degradation(cfg)
    except DerainError as err:
        raise ConfigError(f"{family}.train: {err}") from None


def check_train(t) -> None:
    """Ranges of a ``TrainConfig`` (shared by the 2D and 1D tasks)."""
    for key in ("train.loss", "train.schedule"):
        _check_choice(key, getattr(t, key.split(".")[1]))
    for key in ("iterations", "batch_size", "eval_every", "log_every", "eval_batch"):
        _check_bounds(f"train.{key}", getattr(t, key), 1, 10**9)
    _check_bounds("train.lr", t.lr, 0, 10, lo_open=True)
    _check_bounds("train.gamma", t.gamma, 0, 1, lo_open=True)
    _check_bounds("train.grad_clip", t.grad_clip, 0, 1e9)
    for m in t.milestones:
        _check_bounds("train.milestones", m, 0, 1, lo_open=True, hi_open=True)


def _check_model(cfg: Config) -> None:
    from derain.models import REGISTRY

    m = cfg.model
    if m.name not in REGISTRY:
        raise ConfigError(f"model.name='{m.name}' is unknown (known: {', '.join(REGISTRY)})")
    for key in ("width", "depth", "levels", "window", "heads"):
        _check_bounds(f"model.{key}", getattr(m, key), 1, 4096)
    if m.name == "swinir_light" and m.width % m.heads:
        raise ConfigError(f"model.width={m.width} must be divisible by model.heads={m.heads}")


def _check_prior(cfg: Config) -> None:
    p = cfg.prior
    _check_choice("prior.kind", p.kind)
    for key in ("codebook_size", "embed_dim", "width", "levels", "res_blocks", "pretrain_iterations", "pretrain_batch"):
        _check_bounds(f"prior.{key}", getattr(p, key), 1, 10**7)
    if p.width % 32:
        raise ConfigError(f"prior.width={p.width} must be a multiple of 32 (GroupNorm with 32 groups)")
    _check_bounds("prior.pretrain_lr", p.pretrain_lr, 0, 10, lo_open=True)
    _check_bounds("prior.gan_start", p.gan_start, 0, 1)
    _check_bounds("prior.skip", p.skip, 0, 1e3)
    if p.pretrain_source != "generic":
        _check_source(p.pretrain_source)
    if p.kind == "vq" and p.checkpoint:
        from pathlib import Path

        if not Path(p.checkpoint).expanduser().is_file():
            raise ConfigError(f"prior.checkpoint '{p.checkpoint}' does not exist (nothing is downloaded)")
    if p.kind == "vq" and not p.checkpoint and cfg.data.patch_size % 2 ** (p.levels - 1):
        raise ConfigError(f"data.patch_size={cfg.data.patch_size} must be a multiple of 2**(prior.levels-1)")


def validate_config(cfg: Config) -> None:
    """Raise ConfigError (or DataError for folders) naming the first invalid field of ``cfg``."""
    _check_choice("degradation", cfg.degradation)
    _check_data(cfg)
    _check_degradation(cfg)
    _check_model(cfg)
    check_train(cfg.train)
    _check_prior(cfg)
