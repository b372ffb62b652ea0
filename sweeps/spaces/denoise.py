"""The shortcut is not specific to rain: with more backgrounds a denoiser fails more on unseen noise.

A denoiser trained on a narrow noise range fails on other noise the more backgrounds it sees.
Grid on the denoising analogue: training noise range {gauss_low, gauss_low+gauss_mid} x N; unseen
evaluation on stronger Gaussian and on Poisson noise (whole-image metrics).
"""

from derain.keys import YARDSTICK_GAIN
from sweeps.spaces.base import Space

_ALL = {"degradation": "noise"}

SPACE = Space(
    name="denoise",
    hypothesis=__doc__,
    task="derain",
    metric=YARDSTICK_GAIN,
    grid={
        "smoke": {"noise.train": ["gauss_low"], "data.num_backgrounds": [4, 64]},
        "cpu": {"noise.train": ["gauss_low", "gauss_low+gauss_mid"], "data.num_backgrounds": [4, 64, 1024]},
        "gpu": {"noise.train": ["gauss_low", "gauss_low+gauss_mid"], "data.num_backgrounds": [4, 64, 1024, 4096]},
        "paper": {
            "noise.train": ["gauss_low", "gauss_mid", "gauss_low+gauss_mid"],
            "data.num_backgrounds": [4, 64, 1024, 4096],
        },
    },
    fixed={
        "smoke": _ALL,
        "cpu": _ALL,
        "gpu": {**_ALL, "data.pool_size": 4096},
        "paper": {**_ALL, "data.pool_size": 8192},
    },
)
