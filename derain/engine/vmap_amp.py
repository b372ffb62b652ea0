"""Autocast's cast for convolutions under ``vmap``, which autocast alone does not give there.

Under ``torch.func.vmap`` a member axis on both a convolution's input and its weight is lowered by functorch's
batching rule (a key above autocast's) to one grouped ``aten::convolution``, an op the CPU's autocast has no
rule for (``torch._C._dispatch_dump("aten::convolution")`` lists AutocastCUDA but not AutocastCPU, torch 2.13):
on a CPU the vmapped convolutions of ``derain.engine.ensemble`` ran in fp32 inside ``torch.autocast(dtype=
bfloat16)`` while a single run's ran in bf16, 3x slower and rounded otherwise. Matrix products are not affected
(their rule lowers to ``bmm``, which autocast casts on both).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

CONVOLUTIONS = frozenset({F.conv1d, F.conv2d, F.conv3d, F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d})


class CastConvolutions(TorchFunctionMode):
    """Inside it, every convolution's floating-point tensors (input, weight, bias; any shape) are cast to
    ``dtype`` before the call, as autocast casts them outside ``vmap``; the output is ``dtype``. Gradients flow
    back through the casts to the fp32 parameters."""

    def __init__(self, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype

    def _cast(self, value: Any) -> Any:
        return value.to(self.dtype) if isinstance(value, torch.Tensor) and value.is_floating_point() else value

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in CONVOLUTIONS:
            args, kwargs = tuple(map(self._cast, args)), {k: self._cast(v) for k, v in kwargs.items()}
        return func(*args, **kwargs)
