"""Frozen experiment configuration and the one function that applies overrides to it.

Every knob a sweep can turn lives here as a typed, documented field with a default. ``with_overrides`` turns a
mapping of dotted (``{"data.num_backgrounds": 64}``) or nested (``{"data": {"num_backgrounds": 64}}``) keys into
a new config, rejecting unknown keys and wrong types with an error that names the key. Value ranges and
combinations are checked where a runnable config is built (``derain.config.presets.make_config``,
``derain.toy1d.scales.make_toy_config``). ``parse_assignment`` turns a CLI ``key=value`` string into such a
mapping.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from derain.errors import UNPRINTABLE, ConfigError

C = TypeVar("C")


@dataclass(frozen=True)
class DataConfig:
    """Which backgrounds a run trains on and how evaluation sets are drawn."""

    source: str = "photos"  # photos | textures | smooth | deadleaves | folder:PATH
    eval_source: str = ""  # held-out evaluation backgrounds; '' = data.source (fix it when sweeping the source)
    patch_size: int = 64  # px, square patches; >= 8
    channels: int = 3  # 1 (grayscale) or 3 (RGB)
    num_backgrounds: int = 64  # N distinct training backgrounds (patches or images, see count_unit)
    count_unit: str = "patches"  # patches | images: what num_backgrounds counts
    sharpness_bin: str = "all"  # all | low | mid | high: tercile of the candidate pool N is drawn from
    pool_size: int = 2048  # candidate patches cut from the training images (before N is drawn)
    heldout_fraction: float = 0.2  # folders and textures: share of images (or rows, for few images) held out
    complexity: float = 0.5  # procedural sources only: 0 = simplest, 1 = most complex
    eval_images: int = 16  # images per evaluation set on the training backgrounds (one per degradation)
    heldout_images: int = 64  # images per held-out and yardstick set: the test images every trial shares
    seed: int = 0  # data seed: patch pool, held-out split, evaluation sets (the exam); not the N drawn
    augment: bool = True  # random flips / rot90 of training patches
    degrade_probability: float = 0.9  # share of training samples that get a degradation (rest: identity)


@dataclass(frozen=True)
class RainConfig:
    """Training rain and the custom range used when ``train == "custom"``.

    Lengths are for 128-px patches and are scaled linearly with the patch size.
    """

    train: str = "small"  # a named type, a '+'-joined union (small+medium), or 'custom'
    third_party: bool = True  # also evaluate on albumentations RandomRain (rain no part of us made)
    custom_density: tuple[float, float] = (0.002, 0.004)  # seed density a, per pixel, in (0, 1)
    custom_widths: tuple[int, ...] = (1, 3)  # odd streak widths in px, drawn uniformly
    custom_length_px: tuple[int, int] = (25, 35)  # streak length at 128 px
    custom_angle_deg: tuple[float, float] = (-10.0, 10.0)  # 0 = vertical
    custom_opacity: tuple[float, float] = (0.7, 1.0)  # beta in rainy = clip(B + beta * R)


@dataclass(frozen=True)
class NoiseConfig:
    """Denoising analogue: training noise and its custom range."""

    train: str = "gauss_low"  # a named noise type, a '+'-joined union, or 'custom'
    custom_sigma: tuple[float, float] = (5.0, 15.0)  # Gaussian sigma in 8-bit levels (0..255)


@dataclass(frozen=True)
class ModelConfig:
    """Restoration network; knobs an architecture does not use are ignored by it."""

    name: str = "resnet"  # a key of derain.models.REGISTRY
    width: int = 64  # channels (resnet, unet level 0) or embedding size (swinir_light)
    depth: int = 16  # residual blocks (resnet) or residual Swin groups (swinir_light)
    levels: int = 3  # unet down/up stages
    window: int = 8  # swinir_light attention window, px
    heads: int = 4  # swinir_light attention heads; must divide width


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and evaluation schedule of ``fit``; iteration-based."""

    iterations: int = 2000  # optimiser steps
    batch_size: int = 16
    lr: float = 2e-4  # Adam learning rate
    loss: str = "l1"  # l1 | l2 | charbonnier
    schedule: str = "multistep"  # multistep | cosine | constant
    milestones: tuple[float, ...] = (0.5, 0.75)  # multistep: fractions of iterations where lr *= gamma
    gamma: float = 0.5  # multistep decay factor
    grad_clip: float = 0.0  # max global gradient norm; 0 = off
    amp: bool = True  # bf16/fp16 training steps on CUDA and on CPUs with AMX (loop.amp_dtype)
    eval_every: int = 500  # iterations between evaluations (the last iteration always evaluates)
    log_every: int = 100  # iterations between progress lines
    eval_batch: int = 32  # images per forward pass during evaluation


@dataclass(frozen=True)
class PriorConfig:
    """Generative content prior (DESIGN §7): a VQ autoencoder pre-trained on clean patches, frozen."""

    kind: str = "none"  # none | vq: constrain the output to the prior's codebook | ae: same, unquantised
    codebook_size: int = 256  # K codes
    embed_dim: int = 32  # code dimension
    width: int = 32  # taming 'ch', a multiple of 32 (GroupNorm with 32 groups)
    levels: int = 3  # resolution levels: the latent grid is 2**(levels-1) times coarser than the image
    res_blocks: int = 1  # residual blocks per level
    pretrain_source: str = "generic"  # generic (every built-in source, held-out images excluded) | a source
    pretrain_iterations: int = 2000
    pretrain_batch: int = 16
    pretrain_lr: float = 1e-3
    beta: float = 0.25  # commitment weight of the quantiser loss
    restart_every: int = 100  # steps between dead-code restarts (codebook-collapse guard); 0 = off
    gan: bool = False  # VQGAN-style patch-discriminator hinge loss during pre-training
    gan_weight: float = 0.1
    gan_start: float = 0.5  # fraction of pre-training after which the adversarial loss is switched on
    finetune_decoder: bool = False  # restorer: train the decoder too (the paper's fine-tuned VQGAN)
    skip: float = 0.0  # restorer: weight of a learned input skip added to the decoded output; 0 = pure prior
    checkpoint: str = ""  # local taming VQModel checkpoint used instead of pre-training ('' = pre-train)
    store: str = ""  # prior cache folder; '' = runs/priors under the working directory


@dataclass(frozen=True)
class Config:
    """Root configuration of one run."""

    degradation: str = "rain"  # rain | noise: which family trains and is evaluated
    seed: int = 0  # replicate seed: which N backgrounds are drawn, initialisation, batch order
    data: DataConfig = field(default_factory=DataConfig)
    rain: RainConfig = field(default_factory=RainConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Check (and losslessly coerce) ``value`` against a field's type hint."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        raise ConfigError(f"config key '{key}' is a section; set its fields, e.g. '{key}.<field>'")
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            if not INT64_MIN <= value <= INT64_MAX:  # seeds and counts go to numpy and torch as int64
                raise ConfigError(f"config key '{key}' is out of the int64 range: {value}")
            return value
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):  # no field means anything by NaN or infinity
                raise ConfigError(f"config key '{key}' must be a finite number, got {value}")
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            if UNPRINTABLE.search(value):  # names and paths: a line break or NUL is a paste gone wrong
                raise ConfigError(f"config key '{key}' holds a control character or line break: {value!r}")
            return value
    elif origin is tuple and isinstance(value, list | tuple):
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(key, v, args[0]) for v in value)
        if len(args) == len(value):
            return tuple(_coerce(key, v, a) for v, a in zip(value, args, strict=True))
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            try:
                return _coerce(key, value, arg)
            except ConfigError:
                continue
    raise ConfigError(f"config key '{key}' expects {_type_name(hint)}, got {value!r}")


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _nest(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Turn dotted keys into nested dicts; nested input passes through."""
    nested: dict[str, Any] = {}
    for key, value in mapping.items():
        parts = str(key).split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"config key '{key}' conflicts with another override")
        if isinstance(value, Mapping):
            node.setdefault(parts[-1], {}).update(_nest(value))
        else:
            node[parts[-1]] = value
    return nested


def _apply(obj: Any, overrides: Mapping[str, Any], prefix: str) -> Any:
    hints = _hints(type(obj))
    changes: dict[str, Any] = {}
    for name, value in overrides.items():
        key = f"{prefix}{name}"
        if name not in hints:
            known = ", ".join(f"{prefix}{n}" for n in hints)
            raise ConfigError(f"unknown config key '{key}' (known: {known})")
        current = getattr(obj, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, Mapping):
                raise ConfigError(f"config key '{key}' is a section; set its fields, e.g. '{key}.<field>'")
            changes[name] = _apply(current, value, f"{key}.")
        else:
            changes[name] = _coerce(key, value, hints[name])
    return dataclasses.replace(obj, **changes)


def with_overrides(cfg: C, mapping: Mapping[str, Any]) -> C:
    """Return ``cfg`` (any root config dataclass) with ``mapping`` applied (dotted or nested keys).

    Checks keys and types only; ranges are checked by ``make_config`` / ``make_toy_config``.

    Raises:
        ConfigError: naming the key for an unknown key or a wrong type.
    """
    return _apply(cfg, _nest(mapping), "")


def parse_assignment(text: str, cfg: Any = None) -> dict[str, Any]:
    """Parse a CLI ``key=value`` into ``{key: typed value}`` using the field's type.

    Tuples are comma-separated (``rain.custom_angle_deg=-30,30``); bools accept true/false/1/0/yes/no.
    """
    if "=" not in text:
        raise ConfigError(f"override '{text}' is not of the form key=value")
    key, raw = (s.strip() for s in text.split("=", 1))
    hint = _hint_for(key, cfg or Config())
    return {key: _parse_raw(key, raw, hint)}


def _hint_for(key: str, cfg: Any) -> Any:
    obj, hint = cfg, None
    for i, part in enumerate(key.split(".")):
        hints = _hints(type(obj)) if dataclasses.is_dataclass(obj) else {}
        if part not in hints:
            where = ".".join(key.split(".")[:i]) or "the root"
            known = ", ".join(hints) or "none"
            raise ConfigError(f"unknown config key '{key}' (known under {where}: {known})")
        obj, hint = getattr(obj, part), hints[part]
    return hint


def _parse_raw(key: str, raw: str, hint: Any) -> Any:
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        items = [s for s in raw.split(",") if s.strip()]
        elem = (lambda i: args[0]) if args[-1] is Ellipsis else (lambda i: args[min(i, len(args) - 1)])
        return tuple(_parse_scalar(key, s.strip(), elem(i)) for i, s in enumerate(items))
    return _parse_scalar(key, raw, hint)


def _parse_scalar(key: str, raw: str, hint: Any) -> Any:
    try:
        if hint is bool:
            lowered = raw.lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError(raw)
        if hint is int:
            return int(raw)
        if hint is float:
            return float(raw)
    except ValueError:
        raise ConfigError(f"config key '{key}' expects {_type_name(hint)}, got '{raw}'") from None
    return raw


def to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain-dict view of a config (tuples become lists), e.g. for config.json."""
    return dataclasses.asdict(cfg)


def flatten(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted-key view of a config, or of its nested-dict form (config.json): ``{"data.num_backgrounds": 64}``."""
    items = (
        cfg.items() if isinstance(cfg, Mapping) else ((f.name, getattr(cfg, f.name)) for f in dataclasses.fields(cfg))
    )
    flat: dict[str, Any] = {}
    for name, value in items:
        if dataclasses.is_dataclass(value) or isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat
