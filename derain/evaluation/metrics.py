"""Decoupled evaluation (DESIGN §4): rain-region error, background error, removal, gain, PSNR, SSIM.

All images are in [0, 1]; ``out``, ``clean`` and ``degraded`` are (B, C, H, W), ``layer`` is (B, 1, H, W).
1D signals (B, C, L) with layers (B, 1, L) work the same way (the toy task).
Each metric returns per-image values (B,) as float64 on the device of its inputs.

Which pixels each metric reads (``derain.keys.PER_SET`` says the same per key):

- the rain region ``layer > 50/255`` (``rain_mask``): ``e_r``, ``removal``, ``gain_db``;
- the background ``layer == 0`` (``background_mask``): ``e_b``, ``psnr_b`` - the pixels the degradation left
  exactly untouched, so an output equal to its input scores e_b = 0 (psnr_b = +inf) and no leftover rain can
  count as background error. Pixels of faint rain (0 < layer <= 50/255) are in neither region. A set's
  ``e_b`` pools the squared error over every background pixel of the set (images with little background
  weigh little; at 128 px the steep yardstick leaves about 2 % of the pixels untouched);
- the whole image: ``mse`` (pooled over the set), ``psnr``, ``ssim``, ``psnr_y``, ``ssim_y``.

An image whose region is empty has NaN for that region's per-image metric, and summaries skip NaNs. For
unmasked degradations (noise) the 'rain region' is the whole image and there are no background metrics.
``psnr_y`` and ``ssim_y`` (2D only) follow the field's Y-channel convention (``derain.evaluation.ychannel``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from derain.evaluation.ychannel import psnr_y, ssim_y
from derain.keys import (
    GAP,
    HELDOUT_PSNR,
    OWN_BIN,
    OWN_BIN_GAIN_LOST,
    SEEN_REMOVAL,
    UNSEEN_REMOVAL,
    YARDSTICK,
    eval_key,
    group_key,
)

MASK_THRESHOLD = 50 / 255


def rain_mask(layer: torch.Tensor) -> torch.Tensor:
    """Binary rain region (B, 1, H, W) as float: 1 where the rain layer exceeds 50/255."""
    return (layer > MASK_THRESHOLD).to(torch.float64)


def background_mask(layer: torch.Tensor) -> torch.Tensor:
    """Binary background (B, 1, H, W) as float: 1 where the layer is exactly 0 (the degradation left the pixel
    untouched: rain layers are stored in 8-bit levels, so this is 'below one level of the image's peak')."""
    return (layer == 0).to(torch.float64)


def _per_item_dims(x: torch.Tensor) -> tuple[int, ...]:
    return tuple(range(1, x.dim()))


def _masked_mse(out: torch.Tensor, clean: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    sq = ((out.double() - clean.double()) ** 2).mean(dim=1, keepdim=True)
    dims = _per_item_dims(sq)
    total = weight.sum(dim=dims)
    err = (sq * weight).sum(dim=dims) / total.clamp_min(1)
    return torch.where(total > 0, err, torch.full_like(err, float("nan")))


def e_r(out: torch.Tensor, clean: torch.Tensor, layer: torch.Tensor) -> torch.Tensor:
    """Mean squared error left in the rain region, sum M (out - B)^2 / sum M, (B,); lower is better."""
    return _masked_mse(out, clean, rain_mask(layer))


def e_b(out: torch.Tensor, clean: torch.Tensor, layer: torch.Tensor) -> torch.Tensor:
    """Mean squared error on the background (pixels whose layer is exactly 0), (B,); lower is better."""
    return _masked_mse(out, clean, background_mask(layer))


def pooled_e_b(out: torch.Tensor, clean: torch.Tensor, layer: torch.Tensor) -> float:
    """A set's background error: the squared error summed over every background pixel of every image, over
    their count (NaN when no pixel of the set is background)."""
    weight = background_mask(layer)
    sq = ((out.double() - clean.double()) ** 2).mean(dim=1, keepdim=True)
    total = float(weight.sum())
    return float((sq * weight).sum()) / total if total > 0 else float("nan")


def removal(out: torch.Tensor, degraded: torch.Tensor, clean: torch.Tensor, layer: torch.Tensor) -> torch.Tensor:
    """1 - e_r(out) / e_r(degraded), (B,): 1 = all rain removed, 0 = nothing done, < 0 = made worse."""
    return 1.0 - e_r(out, clean, layer) / e_r(degraded, clean, layer)


def gain_db(out: torch.Tensor, degraded: torch.Tensor, clean: torch.Tensor, layer: torch.Tensor) -> float:
    """Rain-region gain of a whole set in dB: 10 log10(sum e_r(degraded) / sum e_r(out)) over its images.

    0 dB: nothing removed; +3 dB: half the rain-region error gone; no ceiling (unlike ``removal``); +inf for a
    perfect output. Images with an empty rain mask are left out of both sums.
    """
    before, after = e_r(degraded, clean, layer), e_r(out, clean, layer)
    keep = ~(before.isnan() | after.isnan())
    return float(10.0 * torch.log10(before[keep].sum() / after[keep].sum()))


def psnr_b(out: torch.Tensor, clean: torch.Tensor, layer: torch.Tensor) -> torch.Tensor:
    """Background-only PSNR (B,) in dB, data range 1: 10 log10(1 / e_b) on the untouched pixels; +inf for an
    output that leaves them as they were (the identity)."""
    return 10.0 * torch.log10(1.0 / e_b(out, clean, layer))


def mse(out: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Whole-image mean squared error (B,)."""
    return ((out.double() - clean.double()) ** 2).mean(dim=_per_item_dims(out))


def psnr(out: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """PSNR in dB for data range 1, (B,); +inf for identical images."""
    return 10.0 * torch.log10(1.0 / mse(out, clean))


def _window_means(x: torch.Tensor, win: int, spatial_dims: int) -> torch.Tensor:
    """Means over every ``win``-wide window (valid region) of the last ``spatial_dims`` (1 or 2) dims:
    separable, as sliding views (faster than avg_pool in float64 on the CPU, and the same on CUDA)."""
    for dim in range(-1, -spatial_dims - 1, -1):
        x = x.unfold(dim, win, 1).mean(-1)
    return x


def ssim(out: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """SSIM (B,) as scikit-image's ``structural_similarity`` defines it, in torch on the inputs' device.

    A uniform 7x7 window (7-tap for 1D signals (B, C, L)), sample covariance, data range 1, the map's mean over
    the window's valid region, channels averaged. Images smaller than 7 px use the largest odd window that
    fits (3 at least). Computed in float64: the tests hold it to scikit-image within 1e-6.
    """
    a, b = out.detach().double().clamp(0, 1), clean.detach().double().clamp(0, 1)
    win = max(3, min(7, (min(a.shape[2:]) - 1) | 1))
    mu_a, mu_b, aa, bb, ab = _window_means(torch.stack([a, b, a * a, b * b, a * b]), win, a.dim() - 2)
    unbiased = win ** (a.dim() - 2) / (win ** (a.dim() - 2) - 1)
    var_a = unbiased * (aa - mu_a**2)
    var_b = unbiased * (bb - mu_b**2)
    cov = unbiased * (ab - mu_a * mu_b)
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ssim_map.mean(dim=tuple(range(1, a.dim())))


def image_metrics(
    out: torch.Tensor, degraded: torch.Tensor, clean: torch.Tensor, layer: torch.Tensor, masked: bool = True
) -> dict[str, torch.Tensor]:
    """Every per-image metric (B,) of one evaluation set, keyed by metric name.

    Masked degradations get e_r and removal over the rain mask, e_b, e_r_rel and psnr_b over the untouched
    background; unmasked ones (noise) get e_r and removal over the whole image and no background metrics.
    2D images also get psnr_y, ssim_y.
    """
    if not masked:
        layer = torch.ones_like(layer)
    metrics = {"e_r": e_r(out, clean, layer), "removal": removal(out, degraded, clean, layer)}
    if masked:
        metrics["e_b"] = e_b(out, clean, layer)
        metrics["e_r_rel"] = metrics["e_r"] / metrics["e_b"]
        metrics["psnr_b"] = psnr_b(out, clean, layer)
    metrics["psnr"] = psnr(out, clean)
    metrics["ssim"] = ssim(out, clean)
    if out.dim() == 4:
        metrics["psnr_y"] = psnr_y(out, clean)
        metrics["ssim_y"] = ssim_y(out, clean)
    return metrics


def set_metrics(
    out: torch.Tensor, degraded: torch.Tensor, clean: torch.Tensor, layer: torch.Tensor, masked: bool = True
) -> dict[str, float]:
    """One evaluation set's metrics: the mean of each per-image metric (NaN skipped), and the pooled ones:
    ``gain_db`` (rain region), ``e_b``, ``psnr_b``, ``e_r_rel`` (background pixels of the whole set) and ``mse``
    (every pixel; unlike the mean of per-image PSNRs it stays finite when one image is left untouched)."""
    values = {name: _mean(v.tolist()) for name, v in image_metrics(out, degraded, clean, layer, masked).items()}
    values["gain_db"] = gain_db(out, degraded, clean, layer if masked else torch.ones_like(layer))
    values["mse"] = float(mse(out, clean).mean())  # equal-sized images: the pooled whole-set error
    if masked:
        values["e_b"] = pooled_e_b(out, clean, layer)
        values["psnr_b"] = _db(values["e_b"])
        values["e_r_rel"] = values["e_r"] / values["e_b"] if values["e_b"] > 0 else float("nan")
    return values


def _db(error: float) -> float:
    """10 log10(1 / error): +inf for no error, NaN for NaN."""
    if error > 0:
        return 10.0 * math.log10(1.0 / error)
    return math.inf if error == 0 else float("nan")


@dataclass(frozen=True)
class SetResult:
    """The metrics of one (degradation, background set) evaluation set."""

    degradation: str
    bgset: str  # seen | heldout
    seen: bool  # the degradation lies inside the training ranges
    metrics: Mapping[str, float]
    diagnostic: bool = True  # counts in the trial's own seen/unseen split
    yardstick: bool = False  # counts in the fixed exam, eval/yardstick/*


def _mean(values: Iterable[float]) -> float:
    arr = np.asarray(list(values), dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else float("nan")


def summarize(results: Iterable[SetResult]) -> dict[str, float]:
    """The namespaced metric dict: ``eval/<deg>/<bgset>/<metric>`` plus summaries.

    Summaries are over held-out backgrounds (the test images): ``eval/{seen,unseen}/<metric>`` average the
    seen / unseen degradations, ``eval/gap`` = seen minus unseen removal, ``eval/heldout/psnr`` is the PSNR
    of seen degradations on held-out backgrounds (how well new content is reconstructed), and
    ``eval/own_bin/gain_lost_db`` the training degradation's gain minus the yardstick's on the held-out images of
    the trial's sharpness bin. Keys whose group is empty (e.g. no unseen degradation) are left out rather than
    reported as NaN.
    """
    results = list(results)
    flat: dict[str, float] = {}
    for r in results:
        for name, value in r.metrics.items():
            flat[eval_key(r.degradation, r.bgset, name)] = value
    held = [r for r in results if r.bgset == "heldout"]
    groups = {
        "seen": [r for r in held if r.diagnostic and r.seen],
        "unseen": [r for r in held if r.diagnostic and not r.seen],
        YARDSTICK: [r for r in held if r.yardstick],
    }
    for group, chosen in groups.items():
        for name in sorted({m for r in chosen for m in r.metrics}):
            per_set = (flat[eval_key(r.degradation, "heldout", name)] for r in chosen if name in r.metrics)
            flat[group_key(group, name)] = _mean(per_set)
    if SEEN_REMOVAL in flat and UNSEEN_REMOVAL in flat:
        flat[GAP] = flat[SEEN_REMOVAL] - flat[UNSEEN_REMOVAL]
    if group_key("seen", "psnr") in flat:
        flat[HELDOUT_PSNR] = flat[group_key("seen", "psnr")]
    own = [r for r in results if r.bgset == OWN_BIN and "gain_db" in r.metrics]
    seen, unseen = ([r.metrics["gain_db"] for r in own if r.seen is s] for s in (True, False))
    if seen and unseen:
        flat[OWN_BIN_GAIN_LOST] = _mean(seen) - _mean(unseen)
    return flat
