"""The generalization gap is not a capacity problem: bigger networks fail on unseen rain the same way.

Grid: architecture x width/depth x N. If the shortcut, not capacity, drives the failure, the drop of
unseen-rain removal with N appears for every architecture and size.
"""

from derain.keys import YARDSTICK_GAIN
from sweeps.spaces.base import Space

SPACE = Space(
    name="capacity",
    hypothesis=__doc__,
    task="derain",
    metric=YARDSTICK_GAIN,
    grid={
        "smoke": {"model.name": ["resnet", "unet"], "data.num_backgrounds": [16]},
        "cpu": {
            "model.name": ["resnet", "unet", "swinir_light"],
            "model.width": [16, 32],
            "data.num_backgrounds": [16, 1024],
        },
        "gpu": {
            "model.name": ["resnet", "unet", "swinir_light"],
            "model.width": [32, 64],
            "model.depth": [4, 16],
            "data.num_backgrounds": [16, 256, 4096],
        },
        "paper": {
            "model.name": ["resnet", "unet", "swinir_light"],
            "model.width": [32, 64, 128],
            "model.depth": [8, 16],
            "data.num_backgrounds": [16, 256, 4096],
        },
    },
    fixed={"gpu": {"data.pool_size": 4096}, "paper": {"data.pool_size": 8192}},
)
