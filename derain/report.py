"""Readable text tables of a metric dict (``eval/<deg>/<bgset>/<metric>`` keys), for the single-run CLIs."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

COLUMNS = ("removal", "e_r", "e_b", "psnr", "ssim")
SUMMARY = ("eval/seen/removal", "eval/unseen/removal", "eval/gap", "eval/heldout/psnr", "train/loss")


def _fmt(value: float | None, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if metric in ("e_r", "e_b", "train/loss"):
        return f"{value:.2e}"
    return f"{value:.3f}" if metric not in ("psnr", "eval/heldout/psnr") else f"{value:.2f}"


def metric_table(metrics: Mapping[str, float], seen: Iterable[str] | None = None) -> str:
    """Rows: degradations; columns: metrics on seen backgrounds, then on held-out backgrounds; summaries below."""
    per_set = {tuple(k.split("/")[1:]): v for k, v in metrics.items() if k.startswith("eval/") and k.count("/") == 3}
    degs = list(dict.fromkeys(d for d, _, _ in per_set))
    cols = [c for c in COLUMNS if any(m == c for _, _, m in per_set)]
    seen = set(seen or [])
    width = 10 * len(cols)
    lines = [f"{'':<14}|{'seen backgrounds':^{width}}|{'held-out backgrounds':^{width}}",
             f"{'degradation':<14}|" + "|".join("".join(f"{c:>10}" for c in cols) for _ in range(2))]  # fmt: skip
    lines.append("-" * len(lines[1]))
    for d in degs:
        label = f"{d}{' *' if d in seen else ''}"
        halves = ["".join(f"{_fmt(per_set.get((d, b, c)), c):>10}" for c in cols) for b in ("seen", "heldout")]
        lines.append(f"{label:<14}|" + "|".join(halves))
    if seen:
        lines.append("* = inside the training ranges (seen degradation); removal: 1 = all removed, 0 = none")
    lines.append("")
    lines += [f"{k:<22}{_fmt(metrics[k], k):>10}" for k in SUMMARY if k in metrics]
    return "\n".join(lines)
