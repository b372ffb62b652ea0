"""Metric keys: the one registry of every metric name, its direction and how it is shown.

Keys are namespaced and identical in the loop, the terminal tables, Ray Tune, MLflow, the spaces' objectives
and analysis: ``eval/<degradation>/<bgset>/<metric>`` for one evaluation set, ``eval/<seen|unseen>/<metric>``
averaged over held-out backgrounds, ``eval/yardstick/<metric>`` averaged over the fixed yardstick sets (the
one exam every trial sits: compare trials on these), ``eval/gap``, ``eval/heldout/psnr``, ``train/*`` and
``prior/*``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """How one metric is read: ``direction`` 'min' | 'max' | '' (not ranked), its print format, and for
    per-set metrics the pixels it reads (``PIXELS``)."""

    direction: str
    fmt: str = ".3f"
    pixels: str = ""


# The pixels a per-set metric reads (derain.evaluation.metrics): the rain region, the untouched background, or all.
PIXELS = {
    "rain": "the rain region: rain layer > 50/255 (for unmasked noise: every pixel)",
    "background": "the background: pixels the degradation left exactly untouched (rain layer == 0)",
    "both": "rain region over background (e_r / e_b)",
    "image": "every pixel of the image",
}
INF_DB = 100.0  # how +inf dB (a perfect output's PSNR or gain) is logged: MLflow and Optuna store finite numbers

# Per evaluation set (and their seen/unseen averages), by the last component of the key.
PER_SET: dict[str, Metric] = {
    "e_r": Metric("min", ".2e", "rain"),
    "removal": Metric("max", ".3f", "rain"),
    "e_b": Metric("min", ".2e", "background"),  # pooled over the set's background pixels
    "e_r_rel": Metric("min", ".3f", "both"),
    "mse": Metric("min", ".2e", "image"),  # pooled over the set's pixels; finite when one image is untouched
    "psnr": Metric("max", ".2f", "image"),
    "ssim": Metric("max", ".3f", "image"),
    "gain_db": Metric("max", ".2f", "rain"),  # rain-region gain, 10 log10(sum e_r(degraded) / sum e_r(out))
    "psnr_b": Metric("max", ".2f", "background"),  # background-only PSNR, 10 log10(1 / e_b); identity: +inf
    "psnr_y": Metric("max", ".2f", "image"),  # PSNR / SSIM on the Y channel (BasicSR's convention)
    "ssim_y": Metric("max", ".3f", "image"),
}
BGSETS = ("seen", "heldout")  # training backgrounds / held-out images
OWN_BIN = "heldout_bin"  # held-out images of the trial's own sharpness bin (trials trained inside one bin)
TRAINED = "trained"  # the degradation a trial trains on, as a set name (eval/trained/heldout_bin/*)
YARDSTICK = "yardstick"  # the fixed exam: degradations outside every training range, on held-out backgrounds

SEEN_REMOVAL = "eval/seen/removal"
UNSEEN_REMOVAL = "eval/unseen/removal"
GAP = "eval/gap"
HELDOUT_PSNR = "eval/heldout/psnr"
TRAIN_LOSS = "train/loss"
TRAIN_STEP = "train/step"
TRAIN_LR = "train/lr"
YARDSTICK_PREFIX = f"eval/{YARDSTICK}/"
YARDSTICK_E_R = f"eval/{YARDSTICK}/e_r"  # rain-region error on the yardstick (lower is better)
YARDSTICK_E_B = f"eval/{YARDSTICK}/e_b"  # background error on held-out images under the yardstick
YARDSTICK_GAIN = f"eval/{YARDSTICK}/gain_db"
YARDSTICK_PSNR_B = f"eval/{YARDSTICK}/psnr_b"
YARDSTICK_MSE = f"eval/{YARDSTICK}/mse"  # whole image, pooled: doing nothing's is the bar a useful trial clears
# On the held-out images of the trial's own sharpness bin: its training degradation's gain minus the
# yardstick's, in dB (how much rain-region gain the trial loses when the rain is unseen; claim T2).
OWN_BIN_GAIN_LOST = "eval/own_bin/gain_lost_db"

WHOLE_KEYS: dict[str, Metric] = {
    GAP: Metric("min"),
    OWN_BIN_GAIN_LOST: Metric("min", ".2f", "rain"),
    HELDOUT_PSNR: Metric("max", ".2f"),
    TRAIN_LOSS: Metric("min", ".2e"),
    TRAIN_STEP: Metric("", ".0f"),
    TRAIN_LR: Metric("", ".2e"),
}
# The headline numbers of a run: progress lines, metric tables, learning curves and best-value columns.
SUMMARY = (SEEN_REMOVAL, UNSEEN_REMOVAL, GAP, HELDOUT_PSNR, TRAIN_LOSS)
LOGGED_PREFIXES = ("eval/", "train/", "prior/", "ref/")  # reported keys that are metrics (the rest is bookkeeping)
REFERENCES = ("identity", "oracle")  # ref/<name>/<key>: a key's value for output = input / output = clean


def eval_key(degradation: str, bgset: str, metric: str) -> str:
    """``eval/<degradation>/<bgset>/<metric>``: one metric of one evaluation set."""
    return f"eval/{degradation}/{bgset}/{metric}"


def group_key(group: str, metric: str) -> str:
    """``eval/<seen|unseen>/<metric>``: one metric averaged over the seen or unseen degradations (held-out)."""
    return f"eval/{group}/{metric}"


def reference_key(reference: str, key: str) -> str:
    """``ref/<identity|oracle>/<key>``: what ``key`` reads for a reference output, not for the model."""
    return f"ref/{reference}/{key}"


def info(key: str) -> Metric:
    """The registry entry of ``key``; unknown keys (``prior/*``, bookkeeping) are unranked."""
    if key in WHOLE_KEYS:
        return WHOLE_KEYS[key]
    if key.startswith("ref/") and key.count("/") >= 2:  # a reference output's value reads like the key's own
        return info(key.split("/", 2)[2])
    last = key.rsplit("/", 1)[-1]
    if key.startswith("eval/") and last in PER_SET:
        return PER_SET[last]
    return Metric("")


def direction(key: str) -> str:
    """'min' or 'max' for a ranked metric; ValueError naming the key otherwise."""
    mode = info(key).direction
    if not mode:
        raise ValueError(f"metric '{key}' has no direction (not a ranked metric)")
    return mode
