"""derain: the science layer of derain-sweeps.

Rain and noise synthesis, background sources with controlled count and sharpness, decoupled metrics, models,
the training loop (``fit``, ``fit1d``), the content prior and the 1D analogue. Never imports ray, optuna or
mlflow: orchestration lives in ``sweeps/``. The map of its modules is ``docs/architecture.md``.
"""

__version__ = "0.1.0"
