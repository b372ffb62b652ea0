"""Registry-driven model tests: every 2D and 1D model keeps the shape, is finite, trains every parameter,
and a tiny one overfits a fixed batch."""

import pytest
import torch

from derain.config.schema import ModelConfig
from derain.errors import ConfigError
from derain.models import REGISTRY, build_model
from derain.toy1d.config import Toy1dModelConfig
from derain.toy1d.models import TOY_MODELS, build_toy_model

SMALL = ModelConfig(width=8, depth=2, levels=2, window=4, heads=2)


def _build(name: str, channels: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig(**{**SMALL.__dict__, "name": name}), channels)


@pytest.mark.parametrize("name", REGISTRY)
@pytest.mark.parametrize("channels", [1, 3])
def test_shape_finite_and_gradients(name, channels):
    model = _build(name, channels)
    x = torch.rand(2, channels, 21, 27)  # odd sizes exercise the padding of unet / swinir
    y = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    (y - x.flip(-1)).abs().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    assert all(p.grad.abs().sum() > 0 for p in model.parameters())


def _overfit(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> tuple[float, float]:
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    first = None
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(model(x), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return first, loss.item()


@pytest.mark.parametrize("name", [n for n in REGISTRY if n.endswith("_tiny")])
def test_tiny_model_overfits_one_batch(name):
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(4, 3, 16, 16, generator=g) * 0.5
    noisy = (clean + 0.3 * (torch.rand(4, 3, 16, 16, generator=g) > 0.9)).clamp(0, 1)
    first, last = _overfit(_build(name, 3), noisy, clean, 150)
    assert last < 0.3 * first


def test_unknown_model_lists_known():
    with pytest.raises(ConfigError, match="resnet, resnet_tiny, unet"):
        build_model(ModelConfig(name="vgg"), 3)


def test_paper_resnet_size():
    model = build_model(ModelConfig(name="resnet", width=64, depth=16), 3)
    n = sum(p.numel() for p in model.parameters())
    assert 1_200_000 < n < 1_300_000  # 16 blocks x 2 convs x (64*64*9 + 64) + head/tail


@pytest.mark.parametrize("name", TOY_MODELS)
def test_toy_models(name):
    torch.manual_seed(0)
    model = build_toy_model(Toy1dModelConfig(name=name, width=16, depth=2), 64)
    from derain.toy1d.content import fourier

    x = fourier(8, 4, 64, torch.Generator().manual_seed(0))
    y = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    spikes = 0.5 * (torch.rand(8, 1, 64, generator=torch.Generator().manual_seed(1)) > 0.9)
    first, last = _overfit(model, x + spikes, x, 200)
    assert last < 0.3 * first
