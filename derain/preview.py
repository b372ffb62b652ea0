"""A look at the data before a sweep: degradation grids and sharpness-bin grids as PNG figures.

``rain_figure`` shows, per degradation, a few (clean | degraded | layer) triplets with the sampled
parameters; ``bins_figure`` shows patches from each sharpness tercile with their scores. Both are pure
functions returning a matplotlib Figure; ``python -m derain preview`` writes them to a file.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: preview runs on servers and in CI

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from derain.data.banks import BINS, PatchBank, sharpness_bins
from derain.degradations import get_degradation
from derain.degradations.rain import KernelBounds, RainSpec, composite, render_rain, sample_rain_params


def _show(ax, img: torch.Tensor, title: str = "") -> None:
    arr = img.permute(1, 2, 0).clamp(0, 1).numpy()
    ax.imshow(arr.squeeze(-1) if arr.shape[-1] == 1 else arr, cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def _degrade(name: str, clean: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, list]:
    """(degraded, layer, per-image caption) for one named degradation."""
    deg = get_degradation(name)
    if isinstance(deg, RainSpec):
        p = sample_rain_params(deg, clean.shape[0], clean.shape[-2], g)
        layer = render_rain(p, *clean.shape[-2:], KernelBounds.of_spec(deg, *clean.shape[-2:]))
        captions = [
            f"{r['angle_deg']:+.0f}°  L={r['length_px']:.0f}px  w={r['width']:.0f}  a={r['density']:.3f}"
            for r in p.as_records()
        ]
        return composite(clean, layer, p.opacity), layer, captions
    degraded, layer = deg.apply(clean, g)
    return degraded, layer, [deg.name] * clean.shape[0]


def rain_figure(names: list[str], clean: torch.Tensor, seed: int = 0) -> Figure:
    """Rows: degradations; columns: (clean | degraded | layer) for each image of ``clean`` (n, C, H, W)."""
    n = clean.shape[0]
    fig, axes = plt.subplots(len(names), 3 * n, figsize=(2.0 * 3 * n, 2.3 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        g = torch.Generator().manual_seed(seed + row)
        degraded, layer, captions = _degrade(name, clean, g)
        for i in range(n):
            _show(axes[row, 3 * i], clean[i], "clean")
            _show(axes[row, 3 * i + 1], degraded[i], captions[i])
            _show(axes[row, 3 * i + 2], layer[i], "layer")
        axes[row, 0].set_ylabel(name, fontsize=12, fontweight="bold")
    fig.suptitle("degradations: clean | degraded (sampled parameters) | layer", fontsize=12)
    fig.tight_layout()
    return fig


def bins_figure(pool: PatchBank, per_bin: int = 8, seed: int = 0, source: str = "") -> Figure:
    """Rows low / mid / high sharpness tercile of ``pool``; ``per_bin`` random patches each, with scores."""
    bins = sharpness_bins(pool.sharpness)
    g = torch.Generator().manual_seed(seed)
    fig, axes = plt.subplots(3, per_bin, figsize=(1.8 * per_bin, 6.0), squeeze=False)
    for row, name in enumerate(BINS):
        members = torch.nonzero(bins == row).flatten()
        pick = members[torch.randperm(len(members), generator=g)[:per_bin]]
        pick = pick[torch.argsort(pool.sharpness[pick])]
        for col in range(per_bin):
            ax = axes[row, col]
            if col < len(pick):
                _show(ax, pool.subset(pick[col : col + 1]).as_float()[0], f"{pool.sharpness[pick[col]]:.1f}")
            else:
                ax.axis("off")
        axes[row, 0].set_ylabel(name, fontsize=12, fontweight="bold")
    fig.suptitle(f"sharpness bins (terciles) of {source or 'the pool'}: score = |grad| per pixel", fontsize=12)
    fig.tight_layout()
    return fig
