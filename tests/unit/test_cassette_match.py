"""Which cassette entry answers a call: strict (the next entry, equal as JSON) and loose (closest unused entry)."""

from __future__ import annotations

from app.services.cassette_match import LOOSE, STRICT, match_call, unmatched_output

ENTRIES = [
    {"tool_name": "get_weather", "arguments": {"city": "Bergen"}, "output": "rain"},
    {"tool_name": "get_weather", "arguments": {"city": "Oslo"}, "output": "snow"},
    {"tool_name": "search_flights", "arguments": {"from": "LHR", "to": "Oslo", "date": "2026-12-24"}, "output": "SK"},
]


def test_strict_matches_next_entry_whatever_the_key_order():
    assert (
        match_call(ENTRIES, [0, 1], "search_flights", {"date": "2026-12-24", "to": "Oslo", "from": "LHR"}, STRICT) == 2
    )


def test_strict_refuses_a_later_entry_and_says_which_was_next():
    assert match_call(ENTRIES, [], "get_weather", {"city": "Oslo"}, STRICT) is None
    assert unmatched_output(ENTRIES, [], "get_weather", {"city": "Oslo"}, STRICT) == (
        'no cassette entry for get_weather {"city":"Oslo"}: strict playback expected get_weather {"city":"Bergen"} '
        "next (entry 1 of 3)"
    )


def test_strict_compares_json_types():
    entries = [{"tool_name": "t", "arguments": {"n": 1}, "output": "x"}]
    assert match_call(entries, [], "t", {"n": True}, STRICT) is None
    assert match_call(entries, [], "t", {"n": 1}, STRICT) == 0


def test_loose_takes_the_unused_entry_with_most_equal_arguments():
    assert match_call(ENTRIES, [], "get_weather", {"city": "Oslo"}, LOOSE) == 1
    assert match_call(ENTRIES, [], "search_flights", {"from": "LHR", "to": "Oslo", "date": "2027-01-01"}, LOOSE) == 2


def test_loose_prefers_unused_then_reuses_the_closest():
    assert match_call(ENTRIES, [1], "get_weather", {"city": "Oslo"}, LOOSE) == 0
    assert match_call(ENTRIES, [0, 1], "get_weather", {"city": "Oslo"}, LOOSE) == 1


def test_loose_without_entry_of_the_tool_is_unmatched():
    assert match_call(ENTRIES, [], "book_hotel", {}, LOOSE) is None
    assert unmatched_output(ENTRIES, [], "book_hotel", {}, LOOSE) == (
        "no cassette entry for book_hotel {}: the cassette has no call of book_hotel (it has get_weather, search_flights)"
    )
