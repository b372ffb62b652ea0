"""Decoupled metrics: analytic values, identity and perfect outputs, batching, SSIM vs scikit-image."""

import math

import numpy as np
import pytest
import torch
from devices import DEVICES
from skimage.metrics import structural_similarity

from derain.evaluation.metrics import (
    SetResult,
    e_b,
    e_r,
    gain_db,
    image_metrics,
    psnr,
    psnr_b,
    removal,
    set_metrics,
    ssim,
    summarize,
)
from derain.evaluation.ychannel import BT601, psnr_y, ssim_y, y_channel


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
    degraded = clean + layer  # what image_metrics needs for removal; e_r_rel reads out only
    assert image_metrics(out, degraded, clean, layer)["e_r_rel"].item() == pytest.approx(25.0)  # e_r / e_b
    mse = (0.25 + 0.01) / 2
    assert psnr(out, clean).item() == pytest.approx(10 * math.log10(1 / mse))


def test_rain_region_is_above_50_over_255_and_background_is_untouched():
    clean = torch.zeros(1, 1, 2, 2)
    layer = torch.tensor([[[[49 / 255, 51 / 255], [0.0, 1.0]]]])
    out = torch.tensor([[[[1.0, 0.5], [0.3, 0.5]]]])
    assert e_r(out, clean, layer).item() == pytest.approx(0.25)  # only the 51/255 and 1.0 pixels
    assert e_b(out, clean, layer).item() == pytest.approx(0.09)  # only the pixel whose layer is 0
    # faint rain (49/255) is in neither region: an error there moves neither metric
    fainter = out.clone()
    fainter[..., 0, 0] = 0.0
    assert e_b(fainter, clean, layer).item() == pytest.approx(0.09) and e_r(fainter, clean, layer).item() == 0.25


@pytest.mark.parametrize("name", ["small", "steep", "albu", "faint"])
def test_doing_nothing_is_perfect_on_the_background_and_a_flat_output_is_not(photo_batch, name):
    """The background reads only the pixels the rain left untouched: the identity output scores e_b = 0 and
    psnr_b = +inf (however much faint rain there is), a flat grey output scores a low psnr_b."""
    from derain.degradations import get_degradation

    rainy, layer = get_degradation(name).apply(photo_batch, torch.Generator().manual_seed(0))
    identity = set_metrics(rainy, rainy, photo_batch, layer)
    assert identity["e_b"] == 0.0 and identity["psnr_b"] == math.inf and identity["gain_db"] == pytest.approx(0)
    assert ((layer > 0) & (layer <= 50 / 255)).any()  # the faint rain the old background mask counted as error
    flat = set_metrics(torch.full_like(rainy, 0.5), rainy, photo_batch, layer)
    assert flat["psnr_b"] < 15 and flat["e_b"] > 0.01
    perfect = set_metrics(photo_batch, rainy, photo_batch, layer)
    assert perfect["psnr_b"] == math.inf and perfect["gain_db"] == math.inf


def test_a_sets_background_error_pools_its_pixels():
    """e_b of a set is the squared error over all its background pixels, so an image with one background pixel
    weighs one pixel (a mean of per-image values would weigh it as much as a whole image)."""
    clean = torch.zeros(2, 1, 4, 4)
    layer = torch.ones(2, 1, 4, 4)
    layer[0] = 0.0  # image 0: all 16 pixels are background
    layer[1, 0, 0, 0] = 0.0  # image 1: one
    out = torch.zeros(2, 1, 4, 4)
    out[1, 0, 0, 0] = 0.4  # error 0.16 on image 1's only background pixel
    values = set_metrics(out, out, clean, layer)
    assert values["e_b"] == pytest.approx(0.16 / 17) and values["psnr_b"] == pytest.approx(10 * math.log10(17 / 0.16))
    assert e_b(out, clean, layer).tolist() == pytest.approx([0.0, 0.16])  # per image


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
    assert set(m) == {"e_r", "removal", "psnr", "ssim", "psnr_y", "ssim_y"}  # no background metrics for noise
    assert m["e_r"].item() == pytest.approx(0.01) and m["removal"].item() == pytest.approx(0.75)


def test_summarize_keys_and_gap():
    def result(deg, bgset, seen, rem):
        return SetResult(deg, bgset, seen, {"removal": rem, "psnr": 31.0})

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


def _rain_pair() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(clean, rainy, layer) of 2 images: a 0.5 grey background with rain of 0.4 on a quarter of the pixels."""
    clean = torch.full((2, 3, 16, 16), 0.5)
    layer = torch.zeros(2, 1, 16, 16)
    layer[..., :4, :] = 1.0
    return clean, (clean + 0.4 * layer).clamp(0, 1), layer


def test_gain_db_by_hand():
    clean, rainy, layer = _rain_pair()
    assert gain_db(rainy, rainy, clean, layer) == pytest.approx(0.0)  # identity output: nothing removed
    halfway = clean + 0.2 * layer  # rain-region error 0.04 instead of 0.16: a quarter
    assert gain_db(halfway, rainy, clean, layer) == pytest.approx(10 * math.log10(4))
    assert gain_db(clean, rainy, clean, layer) == math.inf  # perfect output
    assert gain_db(clean + 0.6 * layer, rainy, clean, layer) < 0  # made it worse


def test_background_psnr_ignores_the_rain_region():
    clean, rainy, layer = _rain_pair()
    offset = rainy + 0.1 * (1 - layer)  # background off by 0.1 everywhere, rain left as it was
    assert psnr_b(offset, clean, layer).tolist() == pytest.approx([20.0, 20.0])  # 10 log10(1 / 0.01)
    assert psnr_b(rainy, clean, layer).tolist() == [math.inf, math.inf]  # rain only where the mask is


def test_y_channel_psnr_of_a_constant_offset():
    clean = torch.full((1, 3, 16, 16), 0.4)
    luma_offset = 0.05 * sum(BT601) / 255  # Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255
    assert psnr_y(clean + 0.05, clean).item() == pytest.approx(-20 * math.log10(luma_offset))
    gray = torch.full((1, 1, 16, 16), 0.4)
    assert psnr_y(gray + 0.05, gray).item() == pytest.approx(-20 * math.log10(0.05))  # gray is its own Y


def test_y_channel_ssim_matches_scikit_image(photo_batch):
    noisy = (photo_batch + 0.08 * torch.randn(photo_batch.shape, generator=torch.Generator().manual_seed(0))).clamp(
        0, 1
    )
    ours = ssim_y(noisy, photo_batch)
    a, b = y_channel(noisy)[:, 0].numpy(), y_channel(photo_batch)[:, 0].numpy()
    theirs = [
        structural_similarity(x, y, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        for x, y in zip(a, b, strict=True)
    ]
    assert ours.tolist() == pytest.approx(theirs, abs=1e-9)
    assert ssim_y(photo_batch, photo_batch).tolist() == pytest.approx([1.0] * 4)
    assert math.isnan(ssim_y(photo_batch[..., :8, :8], photo_batch[..., :8, :8])[0])  # smaller than the window


def test_set_metrics_pool_gain_and_average_the_rest():
    clean, rainy, layer = _rain_pair()
    values = set_metrics(clean + 0.2 * layer, rainy, clean, layer)
    assert values["gain_db"] == pytest.approx(10 * math.log10(4)) and values["removal"] == pytest.approx(0.75)
    assert {"e_b", "psnr_b", "psnr_y", "ssim_y"} <= set(values)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(3, 3, 40, 33), (2, 1, 5, 9), (3, 1, 64), (2, 2, 6)])
def test_ssim_in_torch_equals_scikit_image_for_images_signals_and_small_windows(shape, device):
    g = torch.Generator().manual_seed(sum(shape))
    clean = torch.rand(shape, generator=g, dtype=torch.float64)
    out = (clean + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    ours = ssim(out.to(device), clean.to(device))
    assert ours.device.type == device and ours.shape == (shape[0],)
    win = max(3, min(7, (min(shape[2:]) - 1) | 1))
    for i in range(shape[0]):
        ref = structural_similarity(out[i].numpy(), clean[i].numpy(), data_range=1.0, channel_axis=0, win_size=win)
        assert ours[i].item() == pytest.approx(ref, abs=1e-9)
