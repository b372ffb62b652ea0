"""A wider range of training rain improves removal of rain outside every training range.

Grid: the diversity ladder {small} -> {small, medium} -> {small, medium, large} -> {random} x N. Unseen
evaluation always includes rain no ladder level contains: albumentations RandomRain (``eval/albu/...``).
"""

from derain.degradations import RAIN_LADDER
from derain.keys import HELDOUT_PSNR, UNSEEN_REMOVAL, eval_key
from derain.scales import SCALE_NAMES
from sweeps.spaces.base import Space

LADDER = list(RAIN_LADDER)

SPACE = Space(
    name="rain_diversity",
    hypothesis=__doc__,
    task="derain",
    metric=eval_key("albu", "heldout", "removal"),
    grid={
        "smoke": {"rain.train": ["small", "random"], "data.num_backgrounds": [16]},
        "cpu": {"rain.train": LADDER, "data.num_backgrounds": [16, 256]},
        "gpu": {"rain.train": LADDER, "data.num_backgrounds": [16, 256, 2048]},
        "paper": {"rain.train": LADDER, "data.num_backgrounds": [16, 128, 1024, 4096]},
    },
    fixed={scale: {"rain.third_party": True} for scale in SCALE_NAMES},
    columns=(eval_key("albu", "heldout", "removal"), UNSEEN_REMOVAL, HELDOUT_PSNR),
)
