"""The 1D analogue shows the same shortcut: complex, numerous functions make the denoiser fail on unseen streaks.

With complex content (high K) and many functions (high M) the denoiser learns the streaks and fails on unseen
ones; wider training streak ranges help.
Grid: content terms K x function count M x training streak range, on the function-denoising task. The
yardstick is the gain on 'thick' streaks (training amplitude, a width no training range has), the same exam for
every trial; removal of 'extreme' streaks, which saturates near 0.98, stays in the table. M starts at one
function because most of the effect lies at small M (see the claims space).
"""

from derain.keys import GAP, UNSEEN_REMOVAL, YARDSTICK_GAIN, eval_key
from derain.toy1d.streaks import STREAK_LADDER
from sweeps.spaces.base import Space

SPACE = Space(
    name="toy1d",
    hypothesis=__doc__,
    task="toy1d",
    metric=YARDSTICK_GAIN,
    grid={
        "smoke": {"content.terms": [4], "content.count": [8, 64], "streaks.train": ["narrow"]},
        "cpu": {"content.terms": [4, 32], "content.count": [1, 4096], "streaks.train": ["narrow", "broad"]},
        "gpu": {
            "content.terms": [2, 8, 32, 64],
            "content.count": [1, 16, 256, 4096],
            "streaks.train": list(STREAK_LADDER),
        },
        "paper": {
            "content.terms": [2, 4, 8, 16, 32, 64],
            "content.count": [1, 4, 16, 64, 256, 1024, 4096, 16384],
            "streaks.train": list(STREAK_LADDER),
        },
    },
    columns=(YARDSTICK_GAIN, eval_key("extreme", "heldout", "removal"), UNSEEN_REMOVAL, GAP),
)
