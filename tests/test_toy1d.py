"""The 1D analogue: content, streaks, training beats identity on seen streaks, CLI outputs."""

import json
import math

import pytest
import torch

from derain.errors import ConfigError
from derain.toy1d import fit1d, make_toy_config
from derain.toy1d.__main__ import main
from derain.toy1d.content import FAMILIES, make_functions
from derain.toy1d.streaks import STREAK_TYPES, streak_spec


@pytest.mark.parametrize("family", FAMILIES)
def test_content_range_and_complexity(family):
    simple = make_functions(family, 32, 2, 128, torch.Generator().manual_seed(0))
    complex_ = make_functions(family, 32, 32, 128, torch.Generator().manual_seed(0))
    assert simple.shape == (32, 1, 128)
    assert simple.min() >= 0.25 - 1e-6 and simple.max() <= 0.75 + 1e-6
    roughness = lambda f: (f[..., 1:] - f[..., :-1]).abs().mean()  # noqa: E731
    assert roughness(complex_) > roughness(simple)


@pytest.mark.parametrize("name", STREAK_TYPES)
def test_streaks_follow_their_ranges(name):
    spec = streak_spec(name)
    clean = torch.full((64, 1, 256), 0.5)
    degraded, support = spec.apply(clean, torch.Generator().manual_seed(0))
    r = STREAK_TYPES[name]
    assert torch.equal(support, ((degraded - clean) > 0).float())
    assert (degraded - clean).max() >= r.amplitude[0]
    frac = support.mean().item()
    assert r.density[0] * 0.5 <= frac <= min(1.0, r.density[1] * r.width[1] * 1.5)
    again, _ = spec.apply(clean, torch.Generator().manual_seed(0))
    assert torch.equal(degraded, again)


def test_fit1d_beats_identity_on_seen_streaks():
    cfg = make_toy_config(
        "smoke",
        {"train.iterations": 300, "train.eval_every": 300, "model.name": "cnn", "model.width": 16, "train.lr": 3e-3},
    )
    metrics = fit1d(cfg)
    assert metrics["eval/narrow/heldout/removal"] > 0.5  # identity scores 0
    assert metrics["eval/yardstick/gain_db"] == metrics["eval/thick/heldout/gain_db"]  # the 1D yardstick: one set
    assert math.isfinite(metrics["eval/yardstick/e_r"]) and "eval/thick/seen/e_r" not in metrics
    assert math.isfinite(metrics["eval/gap"]) and "eval/unseen/removal" in metrics


def test_fit1d_resume_equals_uninterrupted(tmp_path):
    cfg = make_toy_config("smoke")
    full = fit1d(cfg, run_dir=tmp_path / "a")

    def crash(step, _):
        if step == 15:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit1d(cfg, on_eval=crash, run_dir=tmp_path / "b")
    assert fit1d(cfg, run_dir=tmp_path / "b", resume=True) == full


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"content.family": "chebyshev"}, "content.family"),
        ({"streaks.train": "fog"}, "streaks.train"),
        ({"streaks.train": "custom", "streaks.custom_width": (5, 2)}, "streaks.custom_width"),
        ({"model.name": "lstm"}, "model.name"),
        ({"content.length": 4}, "content.length"),
    ],
)
def test_bad_toy_config_names_the_key(override, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        make_toy_config("smoke", override)


def test_cli_writes_outputs(tmp_path, capsys):
    out = tmp_path / "y"
    assert (
        main(
            ["--scale", "smoke", "--set", "content.terms=32", "--set", "content.count=64", "--out", str(out), "--quiet"]
        )
        == 0
    )
    assert {"metrics.json", "config.json"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "config.json").read_text())["content"]["terms"] == 32
    assert "narrow *" in capsys.readouterr().out


def test_both_tasks_name_their_scales_alike():
    from derain.config.presets import SCALE_NAMES, SCALES
    from derain.toy1d.scales import TOY_SCALES

    assert tuple(SCALES) == tuple(TOY_SCALES) == SCALE_NAMES  # one list of names, two tasks' presets


def test_1d_replicates_draw_their_own_functions_and_sit_the_same_exam():
    from derain.toy1d.fit import _functions, build_eval_sets_1d

    first, second = (make_toy_config("smoke", {"seed": s}) for s in (0, 1))
    train_a, train_b = (_functions(c, c.content.count, c.seed, stream=0) for c in (first, second))
    assert not torch.equal(train_a, train_b)
    exam_a = [s for s in build_eval_sets_1d(first, train_a) if s.bgset == "heldout"]
    exam_b = [s for s in build_eval_sets_1d(second, train_b) if s.bgset == "heldout"]
    assert all(torch.equal(a.degraded, b.degraded) for a, b in zip(exam_a, exam_b, strict=True))
