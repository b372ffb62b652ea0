"""A wider range of training rain improves removal of rain outside every training range.

Grid: the diversity ladder {small} -> {small, medium} -> {small, medium, large} -> {random} x N. The metric is
the gain on the ladder's own exam, 'faint' rain (``eval/faint/heldout/gain_db``): small's streaks at opacity
0.3-0.5, equally far (0.2 of opacity) from every rung, so no rung is favoured by where the exam lies. The
yardstick (steep streaks) lies 5 degrees and 5 px beyond 'random' but 55 degrees and 25 px beyond 'small', and
albumentations rain partly inside the wider rungs: both are shown beside it, descriptive only.
"""

from derain.config.presets import SCALE_NAMES
from derain.degradations import LADDER_EXAM, RAIN_LADDER
from derain.keys import GAP, YARDSTICK_GAIN, eval_key
from sweeps.spaces.base import Space

LADDER = list(RAIN_LADDER)

SPACE = Space(
    name="rain_diversity",
    hypothesis=__doc__,
    task="derain",
    metric=eval_key(LADDER_EXAM, "heldout", "gain_db"),
    grid={
        "smoke": {"rain.train": ["small", "random"], "data.num_backgrounds": [16]},
        "cpu": {"rain.train": LADDER, "data.num_backgrounds": [16, 256]},
        "gpu": {"rain.train": LADDER, "data.num_backgrounds": [16, 256, 2048]},
        "paper": {"rain.train": LADDER, "data.num_backgrounds": [16, 128, 1024, 4096]},
    },
    fixed={scale: {"rain.third_party": True} for scale in SCALE_NAMES},
    columns=(eval_key(LADDER_EXAM, "heldout", "gain_db"), YARDSTICK_GAIN, eval_key("albu", "heldout", "gain_db"), GAP),
)
