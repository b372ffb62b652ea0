"""Parity with an independent per-image OpenCV implementation (benchmarks/rain_reference.py).

The two implementations share only the published ranges. Rain coverage (fraction of the layer above 50/255)
of small / medium / large at 128 px must agree within 0.03 over a few hundred samples.
"""

import numpy as np
import pytest
import torch

from benchmarks.rain_reference import add_rain_reference
from derain.degradations.rain import RAIN_TYPES, add_rain

SAMPLES = 300


@pytest.mark.parametrize("name", ["small", "medium", "large"])
def test_coverage_matches_opencv_reference(name):
    rng = np.random.default_rng(123)
    blank = np.zeros((128, 128, 3), np.float32)
    ref = np.mean([(add_rain_reference(blank, RAIN_TYPES[name], rng)[1] > 50 / 255).mean() for _ in range(SAMPLES)])
    _, layer = add_rain(torch.zeros(SAMPLES, 3, 128, 128), name, torch.Generator().manual_seed(123))
    ours = (layer > 50 / 255).float().mean().item()
    assert abs(ours - ref) <= 0.03, f"{name}: torch coverage {ours:.3f} vs OpenCV reference {ref:.3f}"


@pytest.mark.parametrize("angle", [-50.0, -20.0, 0.0, 20.0, 50.0])
def test_kernel_matches_opencv_warp(angle):
    """The torch streak kernel equals cv2.warpAffine of a diagonal + GaussianBlur, pixel for pixel."""
    from benchmarks.rain_reference import streak_kernel
    from derain.degradations.rain import RainParams, streak_kernels

    for length, width in ((25, 1), (35, 5), (45, 9)):
        p = RainParams(
            torch.tensor([0.005]),
            torch.tensor([width]),
            torch.tensor([length]),
            torch.tensor([angle]),
            torch.tensor([1.0]),
            torch.tensor([0]),
        )
        ours = streak_kernels(p, length)[0, 0].numpy()
        ref = streak_kernel(length, angle, width)
        # cv2 interpolates with 5-bit fixed-point weights, hence a few per cent, not float equality.
        assert np.abs(ours - ref).max() < 0.04 * ref.max(), (angle, length, width)


AUTHORS_COVERAGE = {"small": 0.12, "medium": 0.35, "large": 0.63}  # R > 50/255 at 128 px, the authors' statistics


@pytest.mark.parametrize("name", list(AUTHORS_COVERAGE))
def test_coverage_matches_the_authors_statistics(name):
    _, layer = add_rain(torch.zeros(800, 1, 128, 128), name, torch.Generator().manual_seed(1))  # s.e. about 0.003
    coverage = (layer > 50 / 255).float().mean().item()
    assert abs(coverage - AUTHORS_COVERAGE[name]) <= 0.02, f"{name}: coverage {coverage:.3f}"


def test_filtering_matches_opencv_filter2d_with_its_default_borders():
    """Seed smoothing and streak filtering equal cv2.filter2D (reflect-101 borders) on the same seeds."""
    import cv2

    from benchmarks.rain_reference import SEED_SMOOTHING, streak_kernel
    from derain.degradations.rain import _reflect_filter

    rng = np.random.default_rng(5)
    seeds = (rng.uniform(size=(2, 64, 64)) > 0.99).astype(np.float32) * rng.uniform(size=(2, 64, 64)).astype(np.float32)
    kernels = np.stack([np.pad(streak_kernel(n, a, w), (45 - n) // 2) for n, a, w in ((25, 30.0, 3), (45, -60.0, 9))])
    ours = _reflect_filter(torch.from_numpy(seeds)[:, None], torch.from_numpy(kernels)[:, None])[:, 0].numpy()
    for image, kernel, mine in zip(seeds, kernels, ours, strict=True):
        reference = cv2.filter2D(cv2.filter2D(image, -1, SEED_SMOOTHING), -1, kernel)
        assert np.allclose(mine, reference, atol=1e-4)
