"""Background sources, folder loading, patch banks, sharpness and its bins."""

import dataclasses
import logging

import numpy as np
import pytest
import torch

from derain.config.schema import Config, with_overrides
from derain.data.banks import BINS, banks_for, select_backgrounds, sharpness, sharpness_bins
from derain.data.sources import BUILTIN, HELDOUT_PHOTOS, PHOTOS, load_folder, load_source, split_source
from derain.errors import DataError


@pytest.mark.parametrize("source", BUILTIN)
@pytest.mark.parametrize("channels", [1, 3])
def test_every_builtin_source_builds_disjoint_banks(source, channels, small_cfg):
    cfg = with_overrides(small_cfg, {"data.source": source, "data.channels": channels})
    pool, heldout = banks_for(cfg.data)
    assert pool.patches.shape == (128, channels, 32, 32) and pool.patches.dtype == torch.uint8
    assert heldout.patches.shape == (4, channels, 32, 32)
    assert pool.sharpness.shape == (128,) and torch.all(pool.sharpness >= 0)
    assert pool.patches.float().std() > 1  # not blank


def test_photos_hold_out_whole_images():
    images = load_source("photos", 32)
    assert len(images) >= 8
    cfg = with_overrides(Config(), {"data.patch_size": 32, "data.pool_size": 64})
    pool, heldout = banks_for(cfg.data)
    train_px = {p.numpy().tobytes() for p in pool.patches}
    assert not any(p.numpy().tobytes() in train_px for p in heldout.patches)
    # The test set is worth the name: 64 patches from the 4 held-out photos, colour ones included.
    assert len(heldout) == 64 and len(torch.unique(heldout.image_index)) == len(HELDOUT_PHOTOS) >= 4
    colour = (heldout.patches[:, 0] != heldout.patches[:, 1]).flatten(1).any(dim=1)
    assert colour.sum() > 16 and (~colour).sum() > 0  # the grayscale camera man is there too
    train, held = split_source("photos", 32, 0.5, 0, 0.2)
    assert len(train) == len(PHOTOS) - len(HELDOUT_PHOTOS) and len(held) == len(HELDOUT_PHOTOS)


@pytest.mark.parametrize("source", ["smooth", "deadleaves"])
def test_procedural_heldout_images_come_from_their_own_stream(source):
    train, held = split_source(source, 32, 0.5, 0, 0.2)
    assert len(held) >= 8 and len(train) >= 32
    _more_train, same_held = split_source(source, 32, 0.5, 0, 0.5)  # the fraction does not move the split
    assert all(np.array_equal(a, b) for a, b in zip(held, same_held, strict=True))
    assert not {t.tobytes() for t in train} & {h.tobytes() for h in held}


def test_banks_are_deterministic_per_seed(small_cfg):
    a, _ = banks_for(small_cfg.data)
    from derain.data.banks import candidate_banks

    candidate_banks.cache_clear()
    b, _ = banks_for(small_cfg.data)
    assert torch.equal(a.patches, b.patches)
    c, _ = banks_for(with_overrides(small_cfg, {"data.seed": 1}).data)
    assert not torch.equal(a.patches, c.patches)


def test_sharpness_definition():
    flat = torch.full((1, 1, 8, 8), 100, dtype=torch.uint8)
    assert sharpness(flat).item() == 0
    ramp = torch.arange(8, dtype=torch.float64).repeat(8, 1).view(1, 1, 8, 8) * 10  # d/dx = 10, d/dy = 0
    expected = (8 * 7 * 10) / 64  # sqrt(Sx^2 + 0) / (H W)
    assert sharpness(ramp.to(torch.uint8)).item() == pytest.approx(expected)
    assert sharpness(ramp / 255.0).item() == pytest.approx(expected, rel=1e-5)  # float input in [0, 1]


def test_simpler_sources_are_less_sharp():
    scores = {}
    for src, complexity in (("smooth", 0.0), ("deadleaves", 1.0), ("textures", 0.5)):
        cfg = with_overrides(Config(), {"data.source": src, "data.complexity": complexity, "data.pool_size": 64})
        scores[src] = banks_for(cfg.data)[0].sharpness.median().item()
    assert scores["smooth"] < scores["deadleaves"] and scores["smooth"] < scores["textures"]


def test_bins_are_terciles_and_selection_stays_inside():
    scores = torch.arange(99, dtype=torch.float32)
    bins = sharpness_bins(scores)
    assert torch.bincount(bins).tolist() == [33, 33, 33]
    cfg = with_overrides(Config(), {"data.pool_size": 300, "data.patch_size": 32})
    pool, _ = banks_for(cfg.data)
    pool_bins = sharpness_bins(pool.sharpness)
    for b, name in enumerate(BINS):
        chosen = select_backgrounds(
            pool,
            with_overrides(cfg, {"data.num_backgrounds": 50, "data.sharpness_bin": name}).data,
            torch.Generator().manual_seed(0),
        )
        assert len(chosen) == 50
        lo, hi = pool.sharpness[pool_bins == b].min(), pool.sharpness[pool_bins == b].max()
        assert torch.all((chosen.sharpness >= lo) & (chosen.sharpness <= hi))


def test_count_units(small_cfg):
    pool, _ = banks_for(small_cfg.data)
    g = torch.Generator().manual_seed(0)
    by_patch = select_backgrounds(pool, small_cfg.data, g)
    assert len(by_patch) == 8 and len(torch.unique(by_patch.image_index)) <= 8
    images = with_overrides(small_cfg, {"data.count_unit": "images", "data.num_backgrounds": 3}).data
    by_image = select_backgrounds(pool, images, g)
    assert len(torch.unique(by_image.image_index)) == 3 and len(by_image) > 3


def test_too_many_backgrounds_names_the_counts(small_cfg):
    pool, _ = banks_for(small_cfg.data)
    # replace(), not with_overrides(): config validation would refuse this first; the data layer must too.
    data = dataclasses.replace(small_cfg.data, num_backgrounds=100, sharpness_bin="low")
    with pytest.raises(DataError, match=r"num_backgrounds=100 exceeds the 4\d candidate patches.*bin 'low'"):
        select_backgrounds(pool, data, torch.Generator())
    cfg = with_overrides(small_cfg, {"data.num_backgrounds": 50, "data.count_unit": "images"})
    with pytest.raises(DataError, match="50 images requested"):
        select_backgrounds(pool, cfg.data, torch.Generator())


def test_folder_skips_and_counts_bad_files(image_folder, caplog):
    with caplog.at_level(logging.WARNING):
        images = load_folder(str(image_folder), min_size=32)
    assert len(images) == 5  # two RGB, gray JPEG, CMYK JPEG, 16-bit PNG
    assert all(img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 for img in images)
    assert "1 unreadable" in caplog.text and "1 image(s) smaller than 32 px" in caplog.text
    sixteen = next(img for img in images if img.shape[:2] == (66, 66))
    assert sixteen.max() > 200  # 16-bit values scaled to 8 bits, not clipped to 255 everywhere
    assert len(np.unique(sixteen)) > 100


def test_folder_source_end_to_end(image_folder):
    cfg = with_overrides(
        Config(),
        {
            "data.source": f"folder:{image_folder}",
            "data.patch_size": 32,
            "data.pool_size": 40,
            "data.num_backgrounds": 8,
        },
    )
    pool, heldout = banks_for(cfg.data)
    assert len(pool) == 40 and len(heldout) == cfg.data.heldout_images


@pytest.mark.parametrize("setup", ["missing", "empty", "only_bad"])
def test_folder_errors_name_the_folder(tmp_path, setup):
    folder = tmp_path / "data"
    if setup != "missing":
        folder.mkdir()
    if setup == "only_bad":
        (folder / "x.png").write_bytes(b"not a png")
        (folder / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=str(folder)) as err:
        load_folder(str(folder), min_size=16)
    assert "\n" not in str(err.value)


def test_folder_with_only_small_images(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(DataError, match="1 smaller than 64 px"):
        load_folder(str(tmp_path), min_size=64)
