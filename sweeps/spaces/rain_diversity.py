"""A wider range of training rain improves removal of rain outside every training range.

Grid: the diversity ladder {small} -> {small, medium} -> {small, medium, large} -> {random} x N. Unseen
evaluation always includes rain no ladder level contains: the yardstick (steep streaks and albumentations
RandomRain, ``eval/yardstick/...``), the same exam for every rung.
"""

from derain.degradations import RAIN_LADDER
from derain.keys import GAP, UNSEEN_REMOVAL, YARDSTICK_GAIN, eval_key
from derain.scales import SCALE_NAMES
from sweeps.spaces.base import Space

LADDER = list(RAIN_LADDER)

SPACE = Space(
    name="rain_diversity",
    hypothesis=__doc__,
    task="derain",
    metric=YARDSTICK_GAIN,
    grid={
        "smoke": {"rain.train": ["small", "random"], "data.num_backgrounds": [16]},
        "cpu": {"rain.train": LADDER, "data.num_backgrounds": [16, 256]},
        "gpu": {"rain.train": LADDER, "data.num_backgrounds": [16, 256, 2048]},
        "paper": {"rain.train": LADDER, "data.num_backgrounds": [16, 128, 1024, 4096]},
    },
    fixed={scale: {"rain.third_party": True} for scale in SCALE_NAMES},
    columns=(YARDSTICK_GAIN, eval_key("albu", "heldout", "removal"), UNSEEN_REMOVAL, GAP),
)
