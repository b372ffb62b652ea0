"""The devices tests run on: CPU always; CUDA as a ``gpu``-marked case that shows as skipped without CUDA."""

import pytest

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu, id="cuda")]
