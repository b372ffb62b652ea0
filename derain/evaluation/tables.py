"""Readable text tables of a metric dict (``eval/<deg>/<bgset>/<metric>`` keys), for the single-run CLIs."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from derain.keys import BGSETS, SUMMARY, YARDSTICK_E_B, YARDSTICK_E_R, YARDSTICK_GAIN, info

COLUMNS = ("gain_db", "removal", "e_b", "psnr_y", "ssim_y")
YARDSTICK_LINES = (YARDSTICK_GAIN, YARDSTICK_E_R, YARDSTICK_E_B)  # the exam every trial sits, printed first


def _fmt(value: float | None, key: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, info(key).fmt)


def _header(cols: list[str]) -> list[str]:
    width = 10 * len(cols)
    names = "".join(f"{c:>10}" for c in cols)
    return [
        f"{'':<14}|{'seen backgrounds':^{width}}|{'held-out backgrounds':^{width}}",
        f"{'degradation':<14}|{names}|{names}",
    ]


def metric_table(metrics: Mapping[str, float], seen: Iterable[str] | None = None) -> str:
    """Rows: degradations; columns: metrics on seen backgrounds, then on held-out backgrounds; summaries below."""
    per_set = {tuple(k.split("/")[1:]): v for k, v in metrics.items() if k.startswith("eval/") and k.count("/") == 3}
    degs = list(dict.fromkeys(d for d, b, _ in per_set if b in BGSETS))
    cols = [c for c in COLUMNS if any(m == c for _, _, m in per_set)]
    seen = set(seen or [])
    lines = _header(cols)
    lines.append("-" * len(lines[1]))
    for d in degs:
        label = f"{d}{' *' if d in seen else ''}"
        halves = ["".join(f"{_fmt(per_set.get((d, b, c)), f'eval/{c}'):>10}" for c in cols) for b in BGSETS]
        lines.append(f"{label:<14}|" + "|".join(halves))
    if seen:
        lines.append("* = inside the training ranges (seen degradation); removal: 1 = all removed, 0 = none")
    lines.append("")
    lines += [f"{k:<24}{_fmt(metrics[k], k):>10}" for k in (*YARDSTICK_LINES, *SUMMARY) if k in metrics]
    return "\n".join(lines)
