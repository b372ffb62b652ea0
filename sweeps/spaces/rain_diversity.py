"""A wider range of training rain improves removal of rain outside every training range.

Grid: the diversity ladder {small} -> {small, medium} -> {small, medium, large} -> {random} x N. Unseen
evaluation always includes rain no ladder level contains: albumentations RandomRain (``eval/albu/...``).
"""

from sweeps.spaces.base import Space

LADDER = ["small", "small+medium", "small+medium+large", "random"]

SPACE = Space(
    name="rain_diversity",
    hypothesis=__doc__,
    task="derain",
    metric="eval/albu/heldout/removal",
    mode="max",
    grid={
        "smoke": {"rain.train": ["small", "random"], "data.num_backgrounds": [16]},
        "cpu": {"rain.train": LADDER, "data.num_backgrounds": [16, 256]},
        "gpu": {"rain.train": LADDER, "data.num_backgrounds": [16, 256, 2048]},
        "paper": {"rain.train": LADDER, "data.num_backgrounds": [16, 128, 1024, 4096]},
    },
    fixed={scale: {"rain.third_party": True} for scale in ("smoke", "cpu", "gpu", "paper")},
    columns=("eval/albu/heldout/removal", "eval/unseen/removal", "eval/heldout/psnr"),
)
