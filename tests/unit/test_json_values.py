"""``same_json``: JSON's idea of equal values, used by every "did this change?" check (case C13)."""

from __future__ import annotations

from typing import Any

import pytest

from app.json_values import same_json


@pytest.mark.parametrize(
    ("a", "b"),
    [(0, False), (1, True), (1.0, 1), ({"ok": 1}, {"ok": True}), ([0], [False]), (0.0, False)],
)
def test_same_json_python_equal_values_differ(a: Any, b: Any):
    assert a == b  # Python's == calls these equal
    assert not same_json(a, b)


def test_same_json_key_order_ignored():
    assert same_json({"a": 1, "b": [True, {"c": None}]}, {"b": [True, {"c": None}], "a": 1})
