"""Sharper (more complex) backgrounds push the network toward the rain shortcut at equal N.

Grid: sharpness tercile of the candidate pool {low, mid, high} x number of backgrounds N. Expect better
unseen-rain removal for the low bin at equal N.
"""

from derain.keys import YARDSTICK_GAIN
from sweeps.spaces.base import Space

SPACE = Space(
    name="sharpness",
    hypothesis=__doc__,
    task="derain",
    metric=YARDSTICK_GAIN,
    grid={
        "smoke": {"data.sharpness_bin": ["low", "high"], "data.num_backgrounds": [16]},
        "cpu": {"data.sharpness_bin": ["low", "mid", "high"], "data.num_backgrounds": [16, 256]},
        "gpu": {"data.sharpness_bin": ["low", "mid", "high"], "data.num_backgrounds": [16, 128, 1024]},
        "paper": {"data.sharpness_bin": ["low", "mid", "high"], "data.num_backgrounds": [16, 64, 256, 1024, 2048]},
    },
    fixed={"gpu": {"data.pool_size": 4096}, "paper": {"data.pool_size": 8192}},
)
