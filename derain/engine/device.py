"""Device choice, defined once for the CLIs, the sweep trials and the prior pre-training tasks."""

from __future__ import annotations

import torch


def resolve_device(requested: str | torch.device = "auto", gpu_granted: bool = True) -> torch.device:
    """'auto' -> cuda when CUDA exists and the scheduler granted a GPU, else cpu; anything else as given.

    Args:
        requested: 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device.
        gpu_granted: False when a scheduler (Ray) gave this process no GPU, so 'auto' must not take one.
    """
    if str(requested) == "auto":
        return torch.device("cuda" if gpu_granted and torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def default_scale() -> str:
    """The scale preset of a machine: 'gpu' when CUDA is available, else 'cpu'."""
    return "gpu" if torch.cuda.is_available() else "cpu"
