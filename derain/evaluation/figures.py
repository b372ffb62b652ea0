"""The run figure written at a run's last evaluation: degraded | output | clean, for a seen and an unseen
degradation on held-out data; a triptych of images for the 2D task, overlaid signals for the 1D task."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from derain.data.evalsets import EvalSet
from derain.evaluation.evaluate import predict, showcase_sets

PANELS = ("degraded", "output", "clean")


def _pyplot():
    """matplotlib's pyplot on the headless backend (trials run on servers); imported only when a figure is
    drawn, which keeps 0.4 s out of every worker's start."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _kind(s: EvalSet) -> str:
    return "seen" if s.seen else "unseen"


def save_triptych(model: nn.Module, sets: list[EvalSet], device: torch.device, path: Path) -> None:
    """PNG rows (degraded | output | clean) of the first image of each ``showcase_sets`` set."""
    rows, plt = showcase_sets(sets), _pyplot()
    fig, axes = plt.subplots(len(rows), 3, figsize=(7.5, 2.6 * len(rows)), squeeze=False)
    for ax_row, s in zip(axes, rows, strict=True):
        out = predict(model, s.degraded[:1], device).cpu()
        for ax, img, title in zip(ax_row, (s.degraded[0], out[0], s.clean[0]), PANELS, strict=True):
            arr = img.permute(1, 2, 0).numpy()
            ax.imshow(arr.squeeze(-1) if arr.shape[-1] == 1 else arr, cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"{title} ({s.degradation}, {_kind(s)})", fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_snapshot(model: nn.Module, sets: list[EvalSet], device: torch.device, path: Path) -> None:
    """PNG strip degraded | output | clean (H, 3W) of the first image of the first yardstick set: the same
    held-out image under the same unseen rain at every evaluation of every trial, so steps and runs compare."""
    from PIL import Image

    chosen = next((s for s in sets if s.yardstick), sets[0])
    out = predict(model, chosen.degraded[:1], device).cpu()[0]
    strip = torch.cat([chosen.degraded[0], out, chosen.clean[0]], dim=-1).clamp(0, 1)
    pixels = (strip * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels).save(path)


def save_signal_plot(model: nn.Module, sets: list[EvalSet], device: torch.device, path: Path) -> None:
    """PNG: degraded / output / clean of the first held-out function of each ``showcase_sets`` set."""
    rows, plt = showcase_sets(sets), _pyplot()
    fig, axes = plt.subplots(len(rows), 1, figsize=(8, 2.4 * len(rows)), squeeze=False)
    for ax, s in zip(axes[:, 0], rows, strict=True):
        out = predict(model, s.degraded[:1], device)[0, 0].cpu()
        ax.plot(s.degraded[0, 0], color="0.6", lw=1, label="degraded")
        ax.plot(out, color="C3", lw=1.2, label="output")
        ax.plot(s.clean[0, 0], color="C0", lw=1, ls="--", label="clean")
        ax.set_title(f"{s.degradation} ({_kind(s)} streaks, held-out function)", fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
