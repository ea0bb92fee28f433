"""The main flow in a real browser: start a run, answer its rounds in the Inbox, read the outcome on the run page.

Real HTTP all the way: the console's embedded simulator delivers signed
webhooks over loopback to the console, which answers through the simulator's
execution API. Ids come from the JSON API once the page shows the round.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.e2e.support import (
    Console,
    answer,
    assert_same_document,
    go_to,
    mark_document,
    open_path,
    round_card,
    run_error,
    run_result,
    run_status,
    start_from_agents_page,
    submit,
)


def test_clock_run_answered_in_inbox_completes(page: Page, server: Console):
    open_path(page, "/agents")
    mark_document(page)
    task_id = start_from_agents_page(page, "Clock")

    go_to(page, "Inbox")
    expect(page).to_have_url(f"{server.url}/")
    card = round_card(page, "Clock", task_id, 1)
    expect(card).to_be_visible()
    assert_same_document(page)

    [call_id] = server.call_ids(task_id, 1).values()
    answer(card, call_id, "2026-11-29T18:04:05+00:00")
    submit(card)
    expect(page.locator(".q-notification").filter(has_text=f"Round 1 of run {task_id} sent")).to_be_visible()
    expect(card).to_have_count(0)

    open_path(page, f"/runs/{task_id}")
    expect(run_status(page, task_id)).to_have_text("completed")
    expect(run_result(page)).to_contain_text("The current time in UTC is 2026-11-29T18:04:05+00:00.")


def test_trip_planner_rain_books_umbrella_in_second_round(page: Page, server: Console):
    open_path(page, "/agents")
    task_id = start_from_agents_page(page, "Trip planner", {"City": "Bergen"})
    go_to(page, "Inbox")

    first = round_card(page, "Trip planner", task_id, 1)
    expect(first).to_be_visible()
    calls = server.call_ids(task_id, 1)
    assert set(calls) == {"get_weather", "search_flights"}
    weather = "Heavy rain all day, 9 °C"
    flight = json.dumps({"flight": "SK 4609", "from": "LHR", "to": "BGO", "departs": "2026-12-24T08:10"})
    answer(first, calls["get_weather"], weather)
    answer(first, calls["search_flights"], flight, json_mode=True)
    submit(first)
    expect(first).to_have_count(0)

    second = round_card(page, "Trip planner", task_id, 2)
    expect(second).to_be_visible()  # arrives live, by webhook, while the Inbox is open
    expect(second).to_contain_text("book_umbrella")
    booking = "Umbrella reserved, pick-up at Bergen airport arrivals"
    [umbrella_call] = server.call_ids(task_id, 2).items()
    assert umbrella_call[0] == "book_umbrella"
    answer(second, umbrella_call[1], booking)
    submit(second)
    expect(second).to_have_count(0)

    open_path(page, f"/runs/{task_id}")
    expect(run_status(page, task_id)).to_have_text("completed")
    result = run_result(page)
    expect(result).to_contain_text("Trip to Bergen on 2026-12-24.")
    expect(result).to_contain_text(f"Weather: {weather}.")
    expect(result).to_contain_text(f"Flight: {flight}.")
    expect(result).to_contain_text(f"Booking: {booking}.")


def test_flaky_run_fails_when_tool_reports_error(page: Page, server: Console):
    open_path(page, "/agents")
    task_id = start_from_agents_page(page, "Flaky")
    go_to(page, "Inbox")

    card = round_card(page, "Flaky", task_id, 1)
    expect(card).to_be_visible()
    [call_id] = server.call_ids(task_id, 1).values()
    problem = "quote service unavailable (HTTP 503)"
    answer(card, call_id, problem, is_error=True)
    submit(card)
    expect(card).to_have_count(0)

    open_path(page, f"/runs/{task_id}")
    expect(run_status(page, task_id)).to_have_text("failed")
    error = run_error(page)
    expect(error).to_contain_text("tool_error")
    expect(error).to_contain_text(f"fetch_quote failed: {problem}")
    expect(run_result(page)).to_have_count(0)


def test_round_answered_in_one_tab_leaves_the_other(new_page: Callable[[], Page], server: Console):
    first, second = new_page(), new_page()
    for tab in (first, second):
        open_path(tab, "/")
        mark_document(tab)

    task_id = server.start_run("Clock", {"1": "Europe/Oslo"})
    in_first = round_card(first, "Clock", task_id, 1)
    in_second = round_card(second, "Clock", task_id, 1)
    expect(in_first).to_be_visible()
    expect(in_second).to_be_visible()

    [call_id] = server.call_ids(task_id, 1).values()
    answer(in_first, call_id, "19:04")
    submit(in_first)
    expect(in_first).to_have_count(0)
    expect(in_second).to_have_count(0)
    for tab in (first, second):
        assert_same_document(tab)

    open_path(second, f"/runs/{task_id}")
    expect(run_status(second, task_id)).to_have_text("completed")
    expect(run_result(second)).to_contain_text("The current time in Europe/Oslo is 19:04.")
