"""Independent per-image OpenCV/numpy implementation of the rain generator of DESIGN §3.

This is the oracle for the parity test (tests/test_rain_parity.py) and the baseline of
benchmarks/bench_rain.py. It shares no code with ``derain.rain``: it draws its own numpy noise, builds the
streak kernel with ``cv2.warpAffine`` of a diagonal, and filters with ``cv2.filter2D`` and its default
reflect-101 borders, as the authors' group generator does. Only the published ranges
(``RAIN_TYPES``) are read from the library.
"""

from __future__ import annotations

import cv2
import numpy as np

SEED_SMOOTHING = np.array([[0, 0.1, 0], [0.1, 8, 0.1], [0, 0.1, 0]], dtype=np.float32)


def streak_kernel(length: int, angle_deg: float, width: int) -> np.ndarray:
    """L x L diagonal rotated so that 0 deg is vertical (positive leans right), blurred w x w; float32."""
    diag = np.diag(np.ones(length, dtype=np.float32))
    centre = ((length - 1) / 2, (length - 1) / 2)
    rot = cv2.getRotationMatrix2D(centre, -(45.0 + angle_deg), 1.0)
    kernel = cv2.warpAffine(diag, rot, (length, length), flags=cv2.INTER_LINEAR, borderValue=0)
    if width > 1:
        kernel = cv2.GaussianBlur(kernel, (width, width), 0, borderType=cv2.BORDER_CONSTANT)
    return kernel


def _filter(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """cv2.filter2D, centred, with its default border (BORDER_REFLECT_101)."""
    return cv2.filter2D(image, -1, kernel)


def rain_layer(
    height: int,
    width_px: int,
    density: float,
    length: int,
    angle_deg: float,
    width: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """One rain layer (H, W) float32 in [0, 1]."""
    noise = rng.uniform(0.0, 1.0, (height, width_px)).astype(np.float32)
    noise[noise <= 1.0 - density] = 0.0
    noise = _filter(noise, SEED_SMOOTHING)
    layer = _filter(noise, streak_kernel(length, angle_deg, width))
    layer = np.maximum(layer, 0)
    span = layer.max() - layer.min()
    normalised = (layer - layer.min()) / span if span > 1e-12 else np.zeros_like(layer)
    return np.floor(normalised * 255).astype(np.uint8).astype(np.float32) / 255  # cv2.normalize, then uint8


def sample_params(rain_range, size_px: int, rng: np.random.Generator) -> dict:
    """Draw one image's parameters from a ``derain.rain.RainRange`` (lengths scaled to ``size_px``)."""
    length128 = rng.integers(rain_range.length_px[0], rain_range.length_px[1] + 1)
    return {
        "density": rng.uniform(*rain_range.density),
        "length": max(1, round(length128 * size_px / 128)),
        "angle_deg": rng.uniform(*rain_range.angle_deg),
        "width": int(rng.choice(rain_range.widths, p=rain_range.width_probs)),
        "opacity": rng.uniform(*rain_range.opacity),
    }


def add_rain_reference(clean: np.ndarray, rain_range, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """clean (H, W, C) float32 in [0, 1] -> (rainy (H, W, C), layer (H, W)), one image at a time."""
    p = sample_params(rain_range, clean.shape[0], rng)
    layer = rain_layer(clean.shape[0], clean.shape[1], p["density"], p["length"], p["angle_deg"], p["width"], rng)
    rainy = np.clip(clean + p["opacity"] * layer[..., None], 0.0, 1.0)
    return rainy, layer
