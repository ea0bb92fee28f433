"""Every state, verdict and kind a page shows has an icon and a colour the charts can draw."""

from __future__ import annotations

import pytest

from app.ui.looks import HEX, LOOKS, SHOWN, UNKNOWN, color_slot, hex_color, look


@pytest.mark.parametrize("enum", SHOWN, ids=lambda enum: enum.__name__)
def test_look_every_member_has_its_own_entry(enum):
    assert [member for member in enum if member not in LOOKS] == []


def test_look_unknown_run_status_is_neutral_and_drawable():
    assert look("paused_by_operator") == UNKNOWN
    assert hex_color("paused_by_operator") == HEX[UNKNOWN.color]


def test_look_every_colour_has_a_hex_code():
    assert {item.color for item in LOOKS.values()} <= HEX.keys()


def test_color_slot_colours_table_badges_like_the_pages():
    assert "awaiting_tool_calls:'orange-7'" in color_slot()
    assert "bad_signature:'negative'" in color_slot()
