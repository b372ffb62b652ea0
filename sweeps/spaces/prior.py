"""A generative content prior makes the restorer model content, so it removes unseen rain better at equal N.

Grid: prior.kind {none, vq} x number of backgrounds N x source. The vq arm decodes every output from a frozen
codebook pre-trained on generic clean patches (once per sweep, cached), so it cannot reproduce rain it never
saw; compare eval/unseen/removal and e_r between the arms at equal N.
"""

from derain.keys import GAP, UNSEEN_REMOVAL, YARDSTICK_E_R, YARDSTICK_GAIN
from sweeps.spaces.base import Space

SPACE = Space(
    name="prior",
    hypothesis=__doc__,
    task="derain",
    metric=YARDSTICK_GAIN,
    grid={
        "smoke": {"prior.kind": ["none", "vq"], "data.num_backgrounds": [16], "data.source": ["smooth"]},
        "cpu": {"prior.kind": ["none", "vq"], "data.num_backgrounds": [16, 1024], "data.source": ["photos"]},
        "gpu": {
            "prior.kind": ["none", "vq"],
            "data.num_backgrounds": [16, 256, 4096],
            "data.source": ["photos", "textures"],
        },
        "paper": {
            "prior.kind": ["none", "vq"],
            "data.num_backgrounds": [16, 128, 1024, 4096],
            "data.source": ["photos", "textures", "deadleaves"],
        },
    },
    fixed={"gpu": {"data.pool_size": 4096}, "paper": {"data.pool_size": 8192}},
    columns=(YARDSTICK_GAIN, YARDSTICK_E_R, UNSEEN_REMOVAL, GAP),
)
