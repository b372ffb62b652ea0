"""More training backgrounds make the network learn the rain, not the content, and fail on unseen rain.

The paper's Fig. 4: a grid over the number of training backgrounds N (log2 steps) and the background
source. Expect unseen-rain removal to fall and the seen/unseen gap to grow with N, earlier for complex
sources, while held-out background PSNR rises.
"""

from derain.keys import YARDSTICK_GAIN
from sweeps.spaces.base import Space, log2_grid

SPACE = Space(
    name="backgrounds",
    hypothesis=__doc__,
    task="derain",
    metric=YARDSTICK_GAIN,
    grid={
        "smoke": {"data.num_backgrounds": [4, 64], "data.source": ["smooth"]},
        "cpu": {"data.num_backgrounds": log2_grid(4, 1024, 2), "data.source": ["photos", "textures"]},
        "gpu": {"data.num_backgrounds": log2_grid(4, 4096), "data.source": ["photos", "textures", "deadleaves"]},
        "paper": {
            "data.num_backgrounds": log2_grid(4, 4096),
            "data.source": ["photos", "textures", "smooth", "deadleaves"],
        },
    },
    fixed={"gpu": {"data.pool_size": 4096}, "paper": {"data.pool_size": 8192}},
)
