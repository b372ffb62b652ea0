"""Decoupled metrics: analytic values, identity and perfect outputs, batching, SSIM vs scikit-image."""

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from derain.metrics import SetResult, e_b, e_r, e_r_rel, image_metrics, psnr, removal, ssim, summarize


def _half_mask_case():
    clean = torch.zeros(1, 3, 4, 4)
    layer = torch.zeros(1, 1, 4, 4)
    layer[..., :2, :] = 1.0  # top half is rain
    out = clean.clone()
    out[..., :2, :] = 0.5  # error 0.25 in the rain region
    out[..., 2:, :] = 0.1  # error 0.01 on the background
    return out, clean, layer


def test_analytic_values():
    out, clean, layer = _half_mask_case()
    assert e_r(out, clean, layer).item() == pytest.approx(0.25)
    assert e_b(out, clean, layer).item() == pytest.approx(0.01)
    assert e_r_rel(out, clean, layer).item() == pytest.approx(25.0)
    mse = (0.25 + 0.01) / 2
    assert psnr(out, clean).item() == pytest.approx(10 * math.log10(1 / mse))


def test_mask_threshold_is_50_over_255():
    clean = torch.zeros(1, 1, 2, 2)
    layer = torch.tensor([[[[49 / 255, 51 / 255], [0.0, 1.0]]]])
    out = torch.tensor([[[[1.0, 0.5], [0.0, 0.5]]]])
    assert e_r(out, clean, layer).item() == pytest.approx(0.25)  # only the 51/255 and 1.0 pixels
    assert e_b(out, clean, layer).item() == pytest.approx(0.5)


def test_identity_output_removes_nothing_and_perfect_output_everything(photo_batch):
    from derain.degradations.rain import add_rain

    rainy, layer = add_rain(photo_batch, "medium", torch.Generator().manual_seed(0))
    assert torch.allclose(removal(rainy, rainy, photo_batch, layer), torch.zeros(4, dtype=torch.float64))
    assert torch.allclose(removal(photo_batch, rainy, photo_batch, layer), torch.ones(4, dtype=torch.float64))
    worse = (rainy + (rainy - photo_batch)).clamp(0, 1)
    assert torch.all(removal(worse, rainy, photo_batch, layer) < 0)


def test_psnr_of_identical_images_is_infinite(photo_batch):
    assert torch.all(torch.isinf(psnr(photo_batch, photo_batch)))
    assert torch.allclose(ssim(photo_batch, photo_batch), torch.ones(4, dtype=torch.float64))


def test_batch_equals_per_image(photo_batch):
    from derain.degradations.rain import add_rain

    rainy, layer = add_rain(photo_batch, "small", torch.Generator().manual_seed(1))
    out = (rainy * 0.7 + photo_batch * 0.3).clamp(0, 1)
    batched = image_metrics(out, rainy, photo_batch, layer)
    for i in range(4):
        single = image_metrics(out[i : i + 1], rainy[i : i + 1], photo_batch[i : i + 1], layer[i : i + 1])
        for name, values in batched.items():
            torch.testing.assert_close(values[i : i + 1], single[name])


def test_ssim_agrees_with_scikit_image_on_photos(photo_batch):
    noisy = (photo_batch + 0.05 * torch.randn(photo_batch.shape, generator=torch.Generator().manual_seed(0))).clamp(
        0, 1
    )
    ours = ssim(noisy, photo_batch)
    for i in range(4):
        a = noisy[i].permute(1, 2, 0).double().numpy()
        b = photo_batch[i].permute(1, 2, 0).double().numpy()
        assert ours[i].item() == pytest.approx(structural_similarity(a, b, data_range=1.0, channel_axis=2), abs=1e-9)
    assert 0.2 < ours.mean() < 0.99


def test_empty_mask_gives_nan_not_zero():
    x = torch.rand(2, 3, 8, 8)
    assert torch.all(torch.isnan(e_r(x, x * 0.5, torch.zeros(2, 1, 8, 8))))


def test_unmasked_metrics_use_the_whole_image():
    clean = torch.zeros(1, 1, 4, 4)
    noisy = torch.full((1, 1, 4, 4), 0.2)
    out = torch.full((1, 1, 4, 4), 0.1)
    m = image_metrics(out, noisy, clean, torch.zeros(1, 1, 4, 4), masked=False)
    assert set(m) == {"e_r", "removal", "psnr", "ssim"}
    assert m["e_r"].item() == pytest.approx(0.01) and m["removal"].item() == pytest.approx(0.75)


def test_summarize_keys_and_gap():
    def result(deg, bgset, seen, rem):
        return SetResult(deg, bgset, seen, {"removal": torch.tensor([rem, rem]), "psnr": torch.tensor([30.0, 32.0])})

    flat = summarize(
        [
            result("small", "seen", True, 0.9),
            result("small", "heldout", True, 0.8),
            result("large", "heldout", False, 0.2),
            result("albu", "heldout", False, np.nan),
        ]
    )
    assert flat["eval/small/heldout/removal"] == pytest.approx(0.8)
    assert flat["eval/seen/removal"] == pytest.approx(0.8)
    assert flat["eval/unseen/removal"] == pytest.approx(0.2)  # NaN sets are skipped, not averaged in
    assert flat["eval/gap"] == pytest.approx(0.6)
    assert flat["eval/heldout/psnr"] == pytest.approx(31.0)
    only_seen = summarize([result("small", "heldout", True, 0.8)])
    assert "eval/gap" not in only_seen and "eval/unseen/removal" not in only_seen
