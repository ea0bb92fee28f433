"""The inbox in a real browser: the JSON mark under a result field while typing, and the view kept in the URL
across a reload."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.support import Console, call_card, open_path, round_card


def test_json_result_marked_while_typing_before_submit(page: Page, server: Console):
    task_id = server.start_run("Clock", {"1": "UTC"})
    open_path(page, "/")
    card = round_card(page, "Clock", task_id, 1)
    expect(card).to_be_visible()
    [call_id] = server.call_ids(task_id, 1).values()
    call = call_card(card, call_id)
    call.get_by_role("button", name="JSON", exact=True).click()
    call.get_by_label("Result").press_sequentially('{"hour": 9 "minute": 5}')
    expect(call.get_by_text("not JSON: Expecting ',' delimiter (line 1, column 12)")).to_be_visible()
    expect(call.locator(".q-field--error")).to_have_count(1)
    call.get_by_label("Result").fill('{"hour": 9, "minute": 5}')
    expect(call.locator(".q-field--error")).to_have_count(0)


def test_inbox_filter_chosen_survives_reload(page: Page, server: Console):
    clock = server.start_run("Clock", {"1": "UTC"})
    trip = server.start_run("Trip planner", {"1": "Faro"})
    open_path(page, "/")
    expect(round_card(page, "Trip planner", trip, 1)).to_be_visible()
    expect(round_card(page, "Clock", clock, 1)).to_be_visible()
    page.get_by_label("Tool").click()
    page.get_by_role("option", name="search_flights").click()
    expect(round_card(page, "Clock", clock, 1)).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/\?tool=search_flights$"))
    page.reload()
    page.wait_for_function("window.did_handshake === true")
    expect(round_card(page, "Trip planner", trip, 1)).to_be_visible()
    expect(round_card(page, "Clock", clock, 1)).to_be_hidden()
