"""derain: the science layer of derain-sweeps.

Rain and noise synthesis, background sources with controlled count and sharpness, decoupled metrics and
(later) models and training. Never imports ray, optuna or mlflow: orchestration lives in ``sweeps/``.
"""

__version__ = "0.1.0"
