"""Every config field, any value (issue 17): a one-line ConfigError naming the key, or a runnable config.

Hypothesis draws an override for one field of the 2D and of the 1D config: values of the field's own type
(with NaN, infinities, int64 edges and beyond) and of other types. ``make_config`` / ``make_toy_config`` must
either return a config whose every float is finite and every int fits int64, or raise a ``DerainError`` whose
message is one line and names the key. Any other exception is a bug.
"""

from __future__ import annotations

import math
import typing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derain.config.presets import make_config
from derain.config.schema import Config, flatten
from derain.errors import DerainError
from derain.toy1d.config import Toy1dConfig
from derain.toy1d.scales import make_toy_config

FIELDS = {
    "derain": (sorted(flatten(Config())), make_config),
    "toy1d": (sorted(flatten(Toy1dConfig())), make_toy_config),
}
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 2**63, -(2**63) - 1, 0, -1, 1e308]),
)
# Line breaks of every kind str.splitlines() knows, which random text draws too rarely to rely on.
BREAKS = ["\n", "a\r\nb", "\r", "\x0b", "\x1c", "\x85", "\u2028", "\x00"]
TEXT = st.one_of(st.text(max_size=12), st.sampled_from(BREAKS))
ANY = st.one_of(NUMBERS, st.booleans(), TEXT, st.lists(NUMBERS, max_size=3).map(tuple), st.none())


def _finite(value: object) -> bool:
    values = value if isinstance(value, tuple) else (value,)
    return all(
        (not isinstance(v, float) or math.isfinite(v)) and (not isinstance(v, int) or -(2**63) <= v < 2**63)
        for v in values
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), task=st.sampled_from(sorted(FIELDS)))
def test_any_value_for_any_field_is_a_one_line_error_or_a_valid_config(data, task):
    keys, make = FIELDS[task]
    key = data.draw(st.sampled_from(keys), label="key")
    value = data.draw(ANY, label="value")
    try:
        cfg = make("smoke", {key: value})
    except DerainError as err:
        message = str(err)
        assert len(message.splitlines()) == 1 and message.strip(), message
        assert key in message or key.split(".")[-1] in message, (key, message)
        return
    assert all(_finite(v) for v in flatten(cfg).values())
    assert typing.get_type_hints(type(cfg))  # a real config object came back


STRING_FIELDS = [
    (task, key)
    for task, (keys, _) in sorted(FIELDS.items())
    for key in keys
    if isinstance(flatten(Config() if task == "derain" else Toy1dConfig())[key], str)
]


@pytest.mark.parametrize("value", BREAKS)
@pytest.mark.parametrize(("task", "key"), STRING_FIELDS)
def test_a_line_break_in_a_text_field_is_shown_escaped_on_one_line(task, key, value):
    """A name or path with a newline (a paste gone wrong) is refused in one line that shows the escape, so the
    user sees what the value held; a value the field accepts is not in this list (no source or model name
    holds a line break)."""
    _, make = FIELDS[task]
    with pytest.raises(DerainError) as caught:
        make("smoke", {key: value})
    message = str(caught.value)
    assert len(message.splitlines()) == 1 and repr(value)[1:-1] in message, message
