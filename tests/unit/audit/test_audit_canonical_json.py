"""The ledger's canonical JSON is RFC 8785 byte for byte, on its fast path and off it."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.ledger.records import canonical_json

_EDGE_TEXT = st.sampled_from(
    ["", "é", "\u2028\u2029", "\x00\x01\x1f\x7f", '"\\/', "\b\f\n\r\t", "😀", "\ue000", "日本"]
)
_TEXT = st.text() | _EDGE_TEXT
_KEYS = st.text(max_size=6) | _EDGE_TEXT | st.sampled_from(["a", "b", "aa", "A", "_", "10", "9"])
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.sampled_from([0, -1, 2**53 - 1, -(2**53) + 1])
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(_JSON)
def test_any_json_value_is_written_as_rfc8785_writes_it(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        {"\ue000": 1, "😀": 2, "z": 3},  # UTF-16 order puts the emoji (D83D DE00) first
        {"b": [1.0, 1e21, 0.1, -0.0], "a": "x"},
        {"ctl": "\x00\x1f\x7f\u2028", "quote": '"\\'},
        [2**53 - 1, -(2**53) + 1, True, None],
    ],
)
def test_the_tricky_cases_are_written_as_rfc8785_writes_them(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        {"big": 2**53},  # beyond what a double holds exactly
        {"lone": "\ud800"},  # not encodable as UTF-8
        {1: "key not a string"},
        {"nan": float("nan")},
        {"set": {1, 2}},
    ],
)
def test_what_rfc8785_refuses_is_refused(value: Any) -> None:
    with pytest.raises(rfc8785.CanonicalizationError):
        rfc8785.dumps(value)
    with pytest.raises(ValueError, match="not canonicalisable"):
        canonical_json(value)
