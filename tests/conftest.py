"""Shared synthetic fixtures: small configs, real photos, and a folder of awkward image files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from derain.config.schema import Config, with_overrides


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``gpu``-marked tests skip with one reason when CUDA is absent (they are collected, not hidden)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="gpu: CUDA is not available on this machine")
    for item in items:
        if item.get_closest_marker("gpu"):
            item.add_marker(skip)


@pytest.fixture
def small_cfg() -> Config:
    """A config sized for tests: 32-px patches, a small pool, few evaluation images."""
    return with_overrides(
        Config(),
        {
            "data.patch_size": 32,
            "data.pool_size": 128,
            "data.num_backgrounds": 8,
            "data.eval_images": 4,
            "data.heldout_images": 4,
        },
    )


@pytest.fixture
def photo_batch() -> torch.Tensor:
    """(4, 3, 64, 64) float crops of scikit-image's shipped photos, in [0, 1]."""
    from skimage import data

    imgs = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    crops = [torch.from_numpy(im[100:164, 100:164].copy()).permute(2, 0, 1) for im in imgs]
    return torch.stack(crops).float() / 255.0


def _save(path: Path, arr: np.ndarray, mode: str | None = None, **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(arr) if mode is None else Image.fromarray(arr).convert(mode)
    img.save(path, **kw)


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A nested folder: 2 good RGB PNGs, a grayscale JPEG, a CMYK JPEG, a 16-bit PNG, a corrupt JPEG,
    a too-small PNG (20 px) and a text file (ignored: not an image extension)."""
    rng = np.random.default_rng(0)
    root = tmp_path / "dataset"
    _save(root / "a.png", rng.integers(0, 256, (80, 96, 3), dtype=np.uint8))
    _save(root / "sub" / "b.png", rng.integers(0, 256, (72, 72, 3), dtype=np.uint8))
    _save(root / "sub" / "gray.jpg", rng.integers(0, 256, (70, 90), dtype=np.uint8))
    _save(root / "cmyk.jpg", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), mode="CMYK")
    sixteen = (rng.integers(0, 65536, (66, 66))).astype(np.uint16)
    (root / "deep").mkdir()
    Image.fromarray(sixteen).save(root / "deep" / "16bit.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    _save(root / "tiny.png", rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    (root / "README.txt").write_text("not an image")
    return root
