"""Patch banks with controlled count and sharpness (DESIGN §5).

A source's images are split into training and held-out images (``sources.split_source``: disjoint images, or
disjoint rows for sources of very few images; procedural sources draw one distinct image per candidate patch,
so N backgrounds are N distinct images). Candidate patches are cut once per (source, patch size,
channels, seed, pool size, complexity, held-out count) and held as a uint8 tensor bank. A run's
N training backgrounds are drawn from that pool, optionally inside one sharpness tercile.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from derain.config.schema import DataConfig
from derain.data.sources import MIN_IMAGES_FOR_IMAGE_SPLIT, split_source
from derain.errors import DataError

BINS = ("low", "mid", "high")
SHARPNESS_BINS = ("all", *BINS)  # data.sharpness_bin: every background, or one tercile of sharpness
COUNT_UNITS = ("patches", "images")  # data.num_backgrounds counts patches, or whole images (all their patches)


@dataclass(frozen=True)
class PatchBank:
    """Patches (P, C, S, S) uint8 with the index of their source image (P,) and sharpness (P,) float."""

    patches: torch.Tensor
    image_index: torch.Tensor
    sharpness: torch.Tensor

    def __len__(self) -> int:
        return int(self.patches.shape[0])

    def subset(self, idx: torch.Tensor) -> PatchBank:
        return PatchBank(self.patches[idx], self.image_index[idx], self.sharpness[idx])

    def to_numpy(self) -> dict[str, np.ndarray]:
        """Plain arrays, e.g. to share one read-only copy between processes."""
        return {
            "patches": self.patches.numpy(),
            "image_index": self.image_index.numpy(),
            "sharpness": self.sharpness.numpy(),
        }

    @classmethod
    def from_numpy(cls, arrays: dict[str, np.ndarray]) -> PatchBank:
        """Inverse of ``to_numpy``; shares memory with (possibly read-only) arrays, which are never written."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return cls(*(torch.from_numpy(arrays[k]) for k in ("patches", "image_index", "sharpness")))

    def as_float(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """Patches as float (P, C, S, S) in [0, 1] on ``device``."""
        return self.patches.to(device).float() / 255.0


def sharpness(patches: torch.Tensor) -> torch.Tensor:
    """Per-patch sharpness (B,): sqrt(Sx^2 + Sy^2) / (H W), S = sum |finite difference| of gray in [0, 255].

    Args:
        patches: (B, C, H, W), uint8 in [0, 255] or float in [0, 1].
    """
    x = patches.double() if patches.dtype == torch.uint8 else patches.double() * 255.0
    gray = x.mean(dim=1)
    sx = (gray[..., :, 1:] - gray[..., :, :-1]).abs().sum(dim=(-2, -1))
    sy = (gray[..., 1:, :] - gray[..., :-1, :]).abs().sum(dim=(-2, -1))
    return (torch.sqrt(sx**2 + sy**2) / (gray.shape[-1] * gray.shape[-2])).float()


def tercile_edges(scores: torch.Tensor) -> torch.Tensor:
    """The two sharpness values (2,) float64 that split ``scores`` (B,) into terciles."""
    return torch.quantile(scores.double(), torch.tensor([1 / 3, 2 / 3], dtype=torch.float64))


def sharpness_bins(scores: torch.Tensor, edges: torch.Tensor | None = None) -> torch.Tensor:
    """Tercile of each score (B,): 0 = low, 1 = mid, 2 = high; by ``edges`` (default: the scores' own)."""
    edges = tercile_edges(scores) if edges is None else edges
    return torch.bucketize(scores.double(), edges, right=True)


def _cut_patches(images: list[np.ndarray], count: int, size: int, channels: int, seed: int) -> PatchBank:
    """``count`` random crops, spread over images in proportion to their number of crop positions."""
    usable = [i for i, img in enumerate(images) if min(img.shape[:2]) >= size]
    if not usable:
        raise DataError(f"no image of this source is at least {size} px on each side")
    positions = np.array([(images[i].shape[0] - size + 1) * (images[i].shape[1] - size + 1) for i in usable])
    rng = np.random.default_rng([seed, 2])
    which = rng.choice(len(usable), size=count, p=positions / positions.sum())
    which[: len(usable)] = np.arange(min(count, len(usable)))  # every image gets at least one crop
    out = np.empty((count, size, size, 3), np.uint8)
    for k, j in enumerate(which):
        img = images[usable[j]]
        y = rng.integers(0, img.shape[0] - size + 1)
        x = rng.integers(0, img.shape[1] - size + 1)
        out[k] = img[y : y + size, x : x + size]
    patches = torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
    if channels == 1:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        patches = (patches.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    index = torch.as_tensor(np.asarray(usable)[which], dtype=torch.int64)
    return PatchBank(patches, index, sharpness(patches))


@functools.lru_cache(maxsize=8)
def candidate_banks(
    source: str,
    patch_size: int,
    channels: int,
    seed: int,
    pool_size: int,
    complexity: float,
    heldout_fraction: float,
    heldout_count: int,
) -> tuple[PatchBank, PatchBank]:
    """(training candidate pool of ``pool_size``, held-out pool of ``heldout_count``) patch banks; cached."""
    train, heldout = split_source(source, patch_size, complexity, seed, heldout_fraction, (pool_size, heldout_count))
    if not train or not heldout:
        raise DataError(_split_too_small(source, patch_size, heldout_fraction, "training" if not train else "held-out"))
    return (
        _cut_patches(train, pool_size, patch_size, channels, seed),
        _cut_patches(heldout, heldout_count, patch_size, channels, seed + 1),
    )


def _split_too_small(source: str, patch_size: int, fraction: float, side: str) -> str:
    """Why no {side} image is left: a source of few images is split by rows, not by images."""
    if not (source.startswith("folder:") or source == "textures"):
        return f"source '{source}' has no {side} image of at least {patch_size} px per side"
    need = math.ceil(patch_size / min(fraction, 1 - fraction))
    return (
        f"source '{source}': no {side} part is at least {patch_size} px per side after the evaluation split "
        f"(sources of fewer than {MIN_IMAGES_FOR_IMAGE_SPLIT} images hold out the bottom {fraction:.0%} of each "
        f"image's rows, so images need about {need} px of height; use more images or a smaller data.patch_size)"
    )


def bank_key(cfg: DataConfig, source: str) -> tuple:
    """Arguments of ``candidate_banks`` for ``source`` under ``cfg`` (also the key to share banks by)."""
    return (
        source,
        cfg.patch_size,
        cfg.channels,
        cfg.seed,
        cfg.pool_size,
        cfg.complexity,
        cfg.heldout_fraction,
        cfg.heldout_images,
    )


BankGetter = Callable[[tuple], tuple[PatchBank, PatchBank]]


def banks_for(cfg: DataConfig, get: BankGetter | None = None) -> tuple[PatchBank, PatchBank]:
    """(candidate pool of ``source``, held-out bank of ``eval_source`` or else ``source``).

    ``get(bank_key)`` returns the (pool, held-out) pair of a key; default: ``candidate_banks`` (cached per
    process). Sweeps pass a getter that reads one shared copy instead.
    """
    get = get or (lambda key: candidate_banks(*key))
    pool, heldout = get(bank_key(cfg, cfg.source))
    if cfg.eval_source and cfg.eval_source != cfg.source:
        heldout = get(bank_key(cfg, cfg.eval_source))[1]
    return pool, heldout


def select_backgrounds(pool: PatchBank, cfg: DataConfig, generator: torch.Generator) -> PatchBank:
    """The run's N training backgrounds: N patches (or all patches of N images), inside a sharpness bin.

    Raises:
        DataError: when the pool (or bin) holds fewer than N candidates, naming the counts.
    """
    candidates = torch.arange(len(pool))
    where = f"source '{cfg.source}'"
    if cfg.sharpness_bin != "all":
        bins = sharpness_bins(pool.sharpness)
        candidates = candidates[bins == BINS.index(cfg.sharpness_bin)]
        where += f", sharpness bin '{cfg.sharpness_bin}'"
    n = cfg.num_backgrounds
    if cfg.count_unit == "images":
        images = torch.unique(pool.image_index[candidates])
        if n > len(images):
            raise DataError(f"data.num_backgrounds={n} images requested but {where} has {len(images)}")
        chosen = images[torch.randperm(len(images), generator=generator)[:n]]
        return pool.subset(candidates[torch.isin(pool.image_index[candidates], chosen)])
    if n > len(candidates):
        raise DataError(
            f"data.num_backgrounds={n} exceeds the {len(candidates)} candidate patches of {where} "
            f"(raise data.pool_size or lower N)"
        )
    return pool.subset(candidates[torch.randperm(len(candidates), generator=generator)[:n]])
