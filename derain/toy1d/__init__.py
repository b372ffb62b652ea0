"""The paper's 1D analogue (DESIGN §6): denoise sparse 'streaks' from functions of controlled complexity.

Content: random Fourier series with K terms, or piecewise-smooth functions with K pieces (complexity), M
distinct training functions (count). Degradation: random spikes convolved with a box of width w, with
density and amplitude ranges; named ranges 'narrow' (training) and wider / denser / stronger unseen ones.
A small MLP or 1D CNN predicts the clean signal (residual). Same metric names as the 2D task, with the
streak support as the mask. ``fit1d`` trains one; ``python -m derain.toy1d`` is the single-run CLI.

Modules: ``config`` (dataclasses), ``scales`` (presets and ``make_toy_config``), ``content``, ``streaks``,
``models``, ``fit``.
"""

from derain.toy1d.config import Toy1dConfig
from derain.toy1d.fit import fit1d
from derain.toy1d.scales import TOY_SCALES, make_toy_config

__all__ = ["TOY_SCALES", "Toy1dConfig", "fit1d", "make_toy_config"]
