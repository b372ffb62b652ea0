"""Training sampler and fixed evaluation sets (DESIGN §4)."""

import hashlib
import subprocess
import sys

import pytest
import torch

from derain.config.schema import Config, with_overrides
from derain.data import prepare_data
from derain.degradations import (
    RAIN_LADDER,
    evaluation_degradations,
    exam_degradations,
    known_names,
    training_degradation,
    yardstick_degradations,
)


def _digest(cfg: Config) -> str:
    h = hashlib.sha256()
    for s in prepare_data(cfg).eval_sets:
        h.update(f"{s.degradation}/{s.bgset}/{s.seen}".encode())
        for t in (s.clean, s.degraded, s.layer):
            h.update(t.numpy().tobytes())
    return h.hexdigest()


def test_eval_sets_cover_every_degradation_and_bgset(small_cfg):
    data = prepare_data(small_cfg)
    names = {(s.degradation, s.bgset) for s in data.eval_sets}
    exams = {("steep", "heldout"), ("faint", "heldout")}
    assert names == {(n, b) for n in known_names("rain") for b in ("seen", "heldout")} | exams
    assert {(s.degradation, s.bgset) for s in data.eval_sets if s.yardstick} == {("steep", "heldout")}
    assert [s.degradation for s in data.eval_sets if not s.diagnostic] == ["steep", "faint"]  # not in seen/unseen
    seen = {s.degradation for s in data.eval_sets if s.seen}
    assert seen == {"small"}
    for s in data.eval_sets:
        assert s.clean.shape == (4, 3, 32, 32) and s.layer.shape == (4, 1, 32, 32)


def test_seen_follows_training_ranges(small_cfg):
    cfg = with_overrides(small_cfg, {"rain.train": "random", "rain.third_party": False})
    seen = {s.degradation for s in prepare_data(cfg).eval_sets if s.seen}
    assert seen == {"small", "medium", "large", "random"}
    custom = with_overrides(
        small_cfg,
        {
            "rain.train": "custom",
            "rain.custom_density": (0.001, 0.02),
            "rain.custom_widths": (1, 3),
            "rain.custom_length_px": (20, 40),
            "rain.custom_angle_deg": (-15.0, 15.0),
        },
    )
    evals = evaluation_degradations(custom)
    assert "custom" in evals
    assert {n for n, d in evals.items() if training_degradation(custom).covers(d)} == {"small", "custom"}


def test_eval_sets_are_identical_across_processes(small_cfg):
    code = (
        "from derain.config.schema import Config, with_overrides; from tests.test_data import _digest; "
        "print(_digest(with_overrides(Config(), {'data.patch_size': 32, 'data.pool_size': 128, "
        "'data.num_backgrounds': 8, 'data.eval_images': 4, 'data.heldout_images': 4})))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == _digest(small_cfg)


def test_heldout_sets_do_not_depend_on_n_or_bin(small_cfg):
    def heldout(cfg):
        return [s.clean for s in prepare_data(cfg).eval_sets if s.bgset == "heldout"]

    base = heldout(small_cfg)
    other = heldout(with_overrides(small_cfg, {"data.num_backgrounds": 30, "data.sharpness_bin": "high"}))
    assert all(torch.equal(a, b) for a, b in zip(base, other, strict=True))


def test_a_bin_trial_also_sits_its_rain_and_the_yardstick_on_held_out_images_of_its_bin(small_cfg):
    from derain.data.banks import BINS, banks_for, sharpness_bins, tercile_edges
    from derain.keys import OWN_BIN, TRAINED

    for b in BINS:
        cfg = with_overrides(small_cfg, {"data.sharpness_bin": b, "data.heldout_images": 24})
        sets = [s for s in prepare_data(cfg).eval_sets if s.bgset == OWN_BIN]
        assert [(s.degradation, s.seen, s.diagnostic) for s in sets] == [
            (TRAINED, True, False),
            ("steep", False, False),
        ]
        pool, heldout = banks_for(cfg.data)
        inside = heldout.as_float()[sharpness_bins(heldout.sharpness, tercile_edges(pool.sharpness)) == BINS.index(b)]
        rows = {x.numpy().tobytes() for x in inside}
        assert all(x.numpy().tobytes() in rows for s in sets for x in s.clean)  # only images of the bin
        assert torch.equal(sets[0].clean, sets[1].clean)  # the same images under both: paired gains
    assert not [s for s in prepare_data(small_cfg).eval_sets if s.bgset == OWN_BIN]  # 'all': none


def test_noise_family_eval_sets(small_cfg):
    cfg = with_overrides(small_cfg, {"degradation": "noise"})
    sets = prepare_data(cfg).eval_sets
    assert {s.degradation for s in sets} == {*known_names("noise"), "gauss_extreme"}
    assert not any(s.masked for s in sets)
    assert {s.degradation for s in sets if s.seen} == {"gauss_low"}


def test_sampler_batches(small_cfg):
    data = prepare_data(small_cfg)
    degraded, clean = data.sampler.sample(64, torch.Generator().manual_seed(0))
    assert degraded.shape == clean.shape == (64, 3, 32, 32)
    assert degraded.min() >= 0 and degraded.max() <= 1
    identity = (degraded == clean).flatten(1).all(dim=1).float().mean().item()
    assert 0.0 < identity < 0.3  # about 10 % of samples stay clean
    patches = {p.numpy().tobytes() for p in data.backgrounds.as_float()}
    views = [clean[0], clean[0].flip(-1), clean[0].flip(-2), clean[0].flip(-1).flip(-2)]
    views += [v.transpose(-2, -1) for v in views]
    assert any(v.numpy().tobytes() in patches for v in views)  # an augmented view of a training patch


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_degrade_probability_extremes(small_cfg, p):
    # Large rain: small rain seeds no streak at all in 2-13 % of 32-px patches, a rainy image equal to its clean one.
    cfg = with_overrides(small_cfg, {"data.degrade_probability": p, "rain.train": "large"})
    degraded, clean = prepare_data(cfg).sampler.sample(32, torch.Generator().manual_seed(0))
    same = (degraded == clean).flatten(1).all(dim=1)
    assert same.all() if p == 0.0 else (~same).all()


def test_sampler_is_deterministic(small_cfg):
    data = prepare_data(small_cfg)
    a = data.sampler.sample(8, torch.Generator().manual_seed(3))
    b = data.sampler.sample(8, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_eval_source_fixes_heldout_sets_across_training_sources(small_cfg):
    def heldout(source):
        cfg = with_overrides(small_cfg, {"data.source": source, "data.eval_source": "photos"})
        return [s.clean for s in prepare_data(cfg).eval_sets if s.bgset == "heldout"]

    smooth, textures = heldout("smooth"), heldout("textures")
    assert all(torch.equal(a, b) for a, b in zip(smooth, textures, strict=True))
    own = [
        s.clean
        for s in prepare_data(with_overrides(small_cfg, {"data.source": "smooth"})).eval_sets
        if s.bgset == "heldout"
    ]
    assert not torch.equal(own[0], smooth[0])


@pytest.mark.parametrize("family", ["rain", "noise"])
def test_every_rung_sits_the_same_exams(small_cfg, family):
    """Trials on different ladder rungs (and with or without third-party rain) get byte-identical exam sets: the
    yardstick and the exams beside it, each outside every rung."""
    ladder = RAIN_LADDER if family == "rain" else ("gauss_low", "gauss_low+gauss_mid", "gauss_low+gauss_mid+gauss_high")
    digests, keys = set(), set()
    for i, rung in enumerate(ladder):
        cfg = with_overrides(
            small_cfg, {"degradation": family, f"{family}.train": rung, "rain.third_party": i % 2 == 0}
        )
        sets = prepare_data(cfg).eval_sets
        assert [s.degradation for s in sets if s.yardstick] == list(yardstick_degradations(family))
        names = exam_degradations(family)
        yardstick = sorted(
            (s for s in sets if s.degradation in names and s.bgset == "heldout"), key=lambda s: s.degradation
        )
        assert len(yardstick) == len(names) and not any(s.seen for s in yardstick)  # outside every rung
        digests.add(
            hashlib.sha256(
                b"".join(t.numpy().tobytes() for s in yardstick for t in (s.clean, s.degraded, s.layer))
            ).hexdigest()
        )
        keys.add(tuple(s.degradation for s in yardstick))
    assert len(digests) == 1 and len(keys) == 1


def test_replicates_draw_their_own_backgrounds_and_sit_the_same_exam(small_cfg):
    first, second = (prepare_data(with_overrides(small_cfg, {"seed": s})) for s in (0, 1))
    assert not torch.equal(first.backgrounds.patches, second.backgrounds.patches)  # an independent draw of N
    exam = [(a, b) for a, b in zip(first.eval_sets, second.eval_sets, strict=True) if a.bgset == "heldout"]
    assert exam and all(torch.equal(a.clean, b.clean) and torch.equal(a.degraded, b.degraded) for a, b in exam)
    other_exam = prepare_data(with_overrides(small_cfg, {"data.seed": 1})).eval_sets
    assert not torch.equal(other_exam[1].clean, first.eval_sets[1].clean)  # data.seed is the exam's seed
