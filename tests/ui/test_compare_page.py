"""The compare page: two Trip planner runs side by side, the differing step named and highlighted, live."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from tests.builders import TRIP, Console, take_errors, wait_for


async def test_open_compare_two_runs_names_and_highlights_differences(user: User, console: Console):
    a = await console.start(TRIP, {"1": "Lisbon", "2": "2026-12-24"})
    b = await console.start(TRIP, {"1": "Lisbon", "2": "2026-12-25"})
    await console.answer(
        await console.pending_round(a, 1), {"get_weather": "sunny", "search_flights": "TP1351 at 07:05"}
    )
    await console.answer(
        await console.pending_round(b, 1), {"get_weather": "sunny", "search_flights": "TP1353 at 11:40"}
    )
    await console.answer(await console.pending_round(a, 2), {"book_hotel": "Hotel Avenida"})

    await user.open(f"/compare?a={a}&b={b}")
    await user.should_see(
        "3 steps, 2 differ: search_flights arguments (date) and result, book_hotel arguments (date) and result"
    )
    await user.should_see("inputs differ (2)")
    assert _classes(user, "compare-args-1-a") >= {"bg-amber-1"}
    assert _classes(user, "compare-result-1-b") >= {"bg-amber-1"}
    assert "bg-amber-1" not in _classes(user, "compare-args-0-a")
    assert "opacity-60" in _classes(user, "compare-cell-0-a")
    await user.should_see("no result yet")

    await console.answer(await console.pending_round(b, 2), {"book_hotel": "Hotel Avenida"})
    await user.should_see("3 steps, 2 differ: search_flights arguments (date) and result, book_hotel arguments (date)")
    await user.should_not_see("no result yet")


async def test_choose_b_after_only_a_compares_and_swaps(user: User, console: Console):
    a = await console.start(TRIP, {"1": "Lisbon", "2": "2026-12-24"})
    b = await console.start(TRIP, {"1": "Porto", "2": "2026-12-24"})
    await user.open(f"/compare?a={a}")
    await user.should_see(f"Choose run B to compare with run {a}.")
    [picker] = user.find(marker="compare-b").elements
    assert isinstance(picker, ui.select)
    await wait_for(lambda: str(b) in picker.options)
    picker.value = str(b)
    await user.should_see("2 steps, 2 differ: get_weather arguments (city), search_flights arguments (to)")
    assert "Lisbon" in _texts(user, "compare-header-a") and "Porto" in _texts(user, "compare-header-b")
    user.find(marker="compare-swap").click()
    await wait_for(lambda: "Porto" in _texts(user, "compare-header-a"))


async def test_open_compare_unknown_or_bad_task_id_says_so(user: User, console: Console):
    a = await console.start(TRIP, {"1": "Lisbon", "2": "2026-12-24"})
    await user.open(f"/compare?a={a}&b=424242")
    await user.should_see("No run with task_id 424242 (run B)")
    await user.open(f"/compare?a=abc&b={a}")
    await user.should_see("Run A: 'abc' is not a task_id")
    await user.open("/compare?a=99999999999999999999&b=1")
    await user.should_see("is not a task_id")


def _classes(user: User, marker: str) -> set[str]:
    [element] = user.find(marker=marker).elements
    assert isinstance(element, ui.element)
    return set(element.classes)


def _texts(user: User, marker: str) -> str:
    [element] = user.find(marker=marker).elements
    return " ".join(getattr(child, "text", "") for child in element.descendants())


async def test_open_compare_with_superscript_digit_says_not_a_task_id(
    user: User, console: Console, caplog: pytest.LogCaptureFixture
):
    """Regression: ``_task_id`` trusts ``str.isdigit()`` ('²' passes) and ``int('²')`` raises ValueError in ``refresh``."""
    await user.open("/compare?a=%C2%B2&b=1")
    await user.should_see("Run A: '²' is not a task_id")
    assert take_errors(caplog) == []
