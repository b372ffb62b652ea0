"""Config overrides: dotted and nested keys, unknown keys, wrong types and ranges are named."""

import dataclasses

import pytest

from derain.config.presets import make_config
from derain.config.schema import Config, flatten, parse_assignment, to_dict, with_overrides
from derain.errors import ConfigError, DataError


def test_dotted_and_nested_overrides_agree():
    a = with_overrides(Config(), {"data.num_backgrounds": 16, "rain.train": "small+medium"})
    b = with_overrides(Config(), {"data": {"num_backgrounds": 16}, "rain": {"train": "small+medium"}})
    assert a == b
    assert a.data.num_backgrounds == 16 and a.rain.train == "small+medium"
    assert Config().data.num_backgrounds != 16  # the original is untouched


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().data.num_backgrounds = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"data.bogus": 1}, "data.bogus"),
        ({"nope": 1}, "nope"),
        ({"data.num_backgrounds": "many"}, "data.num_backgrounds"),
        ({"data.num_backgrounds": 2.5}, "data.num_backgrounds"),
        ({"data.augment": 1}, "data.augment"),
        ({"rain.custom_angle_deg": (1.0,)}, "rain.custom_angle_deg"),
        ({"data": 3}, "data"),
        ({"data.patch_size": 4}, "data.patch_size"),
        ({"data.channels": 2}, "data.channels"),
        ({"data.sharpness_bin": "extreme"}, "data.sharpness_bin"),
        ({"data.heldout_fraction": 1.0}, "data.heldout_fraction"),
        ({"rain.custom_density": (0.3, 0.1)}, "rain.custom_density"),
        ({"rain.custom_density": (0.0, 0.1)}, "rain.custom_density"),
        ({"rain.custom_density": (0.5, 1.0)}, "rain.custom_density"),
        ({"rain.custom_length_px": (40, 20)}, "rain.custom_length_px"),
        ({"rain.custom_widths": (2,)}, "rain.custom_widths"),
        ({"rain.train": "drizzle"}, "rain.train"),
        ({"degradation": "noise", "noise.custom_sigma": (9.0, 1.0)}, "noise.custom_sigma"),
        ({"degradation": "blur"}, "degradation"),
        ({"data.num_backgrounds": 5000}, "data.num_backgrounds"),
        ({"data.num_backgrounds": 1000, "data.sharpness_bin": "low"}, "sharpness tercile"),
    ],
)
def test_bad_overrides_name_the_key(override, named):
    with pytest.raises(ConfigError) as err:
        make_config(None, override)
    assert named in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "override",
    [{"data.patch_size": 4}, {"rain.train": "drizzle"}, {"data.source": "marble"}, {"train.lr": -1.0}],
)
def test_with_overrides_checks_keys_and_types_only(override):
    cfg = with_overrides(Config(), override)  # no range check, no folder scan, no model registry
    with pytest.raises(ConfigError, match=next(iter(override))):
        make_config(None, flatten(cfg))  # the runnable config refuses it, naming the key


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"train.lr": float("nan")}, "must be a finite number"),
        ({"rain.custom_density": (float("inf"), 0.1)}, "must be a finite number"),
        ({"seed": 2**63}, "out of the int64 range"),
    ],
)
def test_no_field_takes_nan_infinity_or_more_than_int64(override, message):
    with pytest.raises(ConfigError, match=f"{next(iter(override))}.*{message}|{message}"):
        with_overrides(Config(), override)


def test_unknown_source_and_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.source='marble'.*photos"):
        make_config(None, {"data.source": "marble"})
    with pytest.raises(DataError, match=str(tmp_path / "missing")):
        make_config(None, {"data.source": f"folder:{tmp_path / 'missing'}"})


def test_int_is_accepted_for_float_and_lists_for_tuples():
    cfg = with_overrides(Config(), {"data.complexity": 1, "rain.custom_angle_deg": [-30, 30]})
    assert cfg.data.complexity == 1.0 and isinstance(cfg.data.complexity, float)
    assert cfg.rain.custom_angle_deg == (-30.0, 30.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("data.num_backgrounds=64", {"data.num_backgrounds": 64}),
        ("rain.custom_angle_deg=-30,30", {"rain.custom_angle_deg": (-30.0, 30.0)}),
        ("rain.custom_widths=1,3,5", {"rain.custom_widths": (1, 3, 5)}),
        ("data.augment=false", {"data.augment": False}),
        ("rain.train=small+medium", {"rain.train": "small+medium"}),
    ],
)
def test_parse_assignment_uses_field_types(text, expected):
    assert parse_assignment(text) == expected
    with_overrides(Config(), expected)  # and the parsed value is accepted


@pytest.mark.parametrize("text", ["data.num_backgrounds", "data.num_backgrounds=lots", "data.zzz=1", "x.y=1"])
def test_parse_assignment_errors(text):
    with pytest.raises(ConfigError):
        parse_assignment(text)


def test_flatten_and_dict_views_cover_every_field():
    flat = flatten(Config())
    assert flat["data.num_backgrounds"] == Config().data.num_backgrounds
    assert flat["degradation"] == "rain"
    assert with_overrides(Config(), flat) == Config()  # the flat view round-trips
    assert to_dict(Config())["rain"]["train"] == "small"
