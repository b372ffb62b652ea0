"""A model on the fixed evaluation sets: predictions and the namespaced metric dict (2D and 1D alike)."""

from __future__ import annotations

import torch
from torch import nn

from derain.data.evalsets import EvalSet
from derain.evaluation.metrics import SetResult, set_metrics, summarize
from derain.keys import YARDSTICK_PREFIX, reference_key


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, device: torch.device, batch: int = 32) -> torch.Tensor:
    """Model output for ``images`` (n, C, H, W) or (n, 1, L) in [0, 1], in chunks, clamped to [0, 1], on
    ``device``."""
    model.eval()
    chunks = (images[i : i + batch].to(device) for i in range(0, len(images), batch))
    return torch.cat([model(x).float().clamp(0, 1) for x in chunks])


def evaluate_sets(model: nn.Module, sets: list[EvalSet], device: torch.device, batch: int = 32) -> dict[str, float]:
    """The namespaced metric dict (``eval/<deg>/<bgset>/<metric>`` and summaries) of ``model`` on ``sets``.

    The metrics run batched on ``device``, SSIM included (``metrics.ssim``, held to scikit-image's within 1e-6).
    """
    results = []
    for s in sets:
        out = predict(model, s.degraded, device, batch)
        degraded, clean, layer = (t.to(device) for t in (s.degraded, s.clean, s.layer))
        values = set_metrics(out, degraded, clean, layer, s.masked)
        results.append(SetResult(s.degradation, s.bgset, s.seen, values, s.diagnostic, s.yardstick))
    return summarize(results)


def reference_metrics(sets: list[EvalSet], device: torch.device, oracle: bool = True) -> dict[str, float]:
    """The yardstick's scale: its metrics for the identity (output = degraded input) and, with ``oracle``, for
    the oracle (output = clean image), as ``ref/<identity|oracle>/eval/yardstick/<metric>``. They depend on the
    exam only, so a report can show every trial's numbers between these two ends."""
    out: dict[str, float] = {}
    for name, pick in (("identity", lambda s: s.degraded), ("oracle", lambda s: s.clean))[: 2 if oracle else 1]:
        results = []
        for s in (s for s in sets if s.yardstick):
            degraded, clean, layer = (t.to(device) for t in (s.degraded, s.clean, s.layer))
            values = set_metrics(pick(s).to(device), degraded, clean, layer, s.masked)
            results.append(SetResult(s.degradation, s.bgset, s.seen, values, s.diagnostic, s.yardstick))
        chosen = {k: v for k, v in summarize(results).items() if k.startswith(YARDSTICK_PREFIX) and v == v}
        out.update({reference_key(name, k): v for k, v in chosen.items()})  # NaN (0/0 of the oracle) left out
    return out


def showcase_sets(sets: list[EvalSet]) -> list[EvalSet]:
    """The first seen and the first unseen set on held-out backgrounds (those that exist): what figures show."""
    held = [s for s in sets if s.bgset == "heldout" and s.diagnostic]
    firsts = (next((s for s in held if s.seen), None), next((s for s in held if not s.seen), None))
    return [s for s in firsts if s is not None]
