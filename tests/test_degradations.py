"""Noise family, third-party rain and the degradation registry honour the rain contract."""

import os
import subprocess
import sys

import pytest
import torch

from derain.degradations import get_degradation, known_names
from derain.degradations.noise import NOISE_TYPES, noise_spec
from derain.errors import ConfigError


@pytest.mark.parametrize("name", known_names())
@pytest.mark.parametrize("channels", [1, 3])
def test_every_named_degradation_keeps_the_contract(name, channels):
    clean = torch.rand(3, channels, 40, 40, generator=torch.Generator().manual_seed(0))
    deg = get_degradation(name)
    out, layer = deg.apply(clean, torch.Generator().manual_seed(7))
    again, layer2 = deg.apply(clean, torch.Generator().manual_seed(7))
    assert out.shape == clean.shape and layer.shape == (3, 1, 40, 40)
    assert out.dtype == clean.dtype and layer.dtype == clean.dtype
    assert out.min() >= 0 and out.max() <= 1 and layer.min() >= 0 and layer.max() <= 1
    assert torch.equal(out, again) and torch.equal(layer, layer2)
    assert (out - clean).abs().sum() > 0
    assert deg.family in ("rain", "noise") and deg.covers(deg)


def test_third_party_rain_changes_only_where_its_layer_is():
    clean = torch.full((2, 3, 64, 64), 0.2)
    rainy, layer = get_degradation("albu").apply(clean, torch.Generator().manual_seed(0))
    changed = (rainy - clean).abs().amax(dim=1, keepdim=True) > 0
    assert torch.equal(changed, layer > 0)
    assert (layer > 50 / 255).float().mean() > 0.01  # visible rain


def test_gaussian_noise_level_matches_sigma():
    clean = torch.full((64, 1, 32, 32), 0.5)
    noisy, _ = noise_spec("gauss_mid").apply(clean, torch.Generator().manual_seed(0))
    sigma = (noisy - clean).std(dim=(1, 2, 3)) * 255
    assert sigma.min() > 15 * 0.85 and sigma.max() < 30 * 1.15


def test_poisson_noise_grows_with_intensity():
    dark, bright = torch.full((8, 1, 32, 32), 0.1), torch.full((8, 1, 32, 32), 0.8)
    d, _ = noise_spec("poisson").apply(dark, torch.Generator().manual_seed(0))
    b, _ = noise_spec("poisson").apply(bright, torch.Generator().manual_seed(0))
    assert (b - bright).std() > (d - dark).std()


def test_noise_covers_by_range():
    assert noise_spec("gauss_low+gauss_mid").covers(noise_spec("gauss_mid"))
    assert not noise_spec("gauss_low").covers(noise_spec("gauss_high"))
    assert not noise_spec("gauss_high").covers(noise_spec("poisson"))
    assert set(NOISE_TYPES) <= set(known_names("noise"))


@pytest.mark.parametrize("name", ["drizzle", "small+gauss_low", "albu+small", ""])
def test_unknown_or_mixed_names_list_known(name):
    with pytest.raises(ConfigError, match="known: small"):
        get_degradation(name)


def test_importing_the_degradations_touches_no_network():
    # albumentations asks pypi.org for updates on import unless told not to; nothing may go online at run time.
    code = (
        "import socket, threading, time; seen = []; real = socket.getaddrinfo\n"
        "socket.getaddrinfo = lambda *a, **k: (seen.append(a[0]), real(*a, **k))[1]\n"
        "import derain.degradations\n"
        "[t.join(5) for t in threading.enumerate() if t is not threading.main_thread()]\n"
        "print(seen)"
    )
    env = {k: v for k, v in os.environ.items() if k != "NO_ALBUMENTATIONS_UPDATE"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"


def test_the_ladder_exam_lies_equally_far_from_every_rung():
    """'faint' differs from every rung of the rain ladder in opacity only, by the same 0.2 below each rung's
    least (every rung holds all of 'small', whose streaks faint has); the yardstick lies outside every rung."""
    import dataclasses

    from derain.degradations import LADDER_EXAM, RAIN_LADDER, get_degradation, yardstick_degradations
    from derain.degradations.rain import rain_spec

    exam = get_degradation(LADDER_EXAM)
    (faint,) = exam.components
    opaque = dataclasses.replace(faint, opacity=(0.7, 1.0))
    for rung in map(rain_spec, RAIN_LADDER):
        assert not rung.covers(exam) and rung.covers(rain_spec(opaque))  # outside, by opacity alone
        assert min(c.opacity[0] for c in rung.components) - faint.opacity[1] == pytest.approx(0.2)
        assert not any(rung.covers(d) for d in yardstick_degradations("rain").values())
