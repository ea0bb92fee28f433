"""From an unmatched call to a rule that answers it, in a real browser: a rules handler answers a run's call with
no rule, the handler's editor lists the call with the nearest rule's diff, *New rule from this call* opens a rule
for its arguments, Save, and the next run with those arguments is answered by it."""

from __future__ import annotations

import time

from playwright.sync_api import Locator, Page, expect

from tests.e2e.support import Console, open_path, run_result, run_status

OSLO = {
    "name": "Oslo",
    "when": [{"kind": "equals", "path": "timezone", "value": "Europe/Oslo"}],
    "response": {"output": "noon in Oslo", "is_error": False},
}


def test_unmatched_call_to_new_rule_answers_next_run(page: Page, server: Console):
    _cancel_waiting_clock_runs(server)  # saving an auto handler answers them too, each an unmatched call
    saved = server.http.post(
        "/api/handlers",
        json={
            "agent_id": server.agent_id("Clock"),
            "tool_name": "get_current_time",
            "kind": "rules",
            "mode": "auto",
            "spec": {"rules": [OSLO]},
        },
    ).json()
    server.http.delete(f"/api/handlers/{saved['id']}/unmatched")  # calls other files' tests left on this console
    try:
        missed = server.start_run("Clock", {"1": "Asia/Tokyo"})
        open_path(page, f"/runs/{missed}")
        expect(run_status(page, missed)).to_have_text("completed")
        expect(run_result(page)).to_contain_text("I could not read the clock in Asia/Tokyo: no rule matched")

        open_path(page, "/handlers")
        clock_tool(page).click()
        expect(page.get_by_text("Unmatched calls · 1")).to_be_visible()
        expect(page.get_by_text("timezone: expected 'Europe/Oslo', got 'Asia/Tokyo'")).to_be_visible()
        expect(page.get_by_role("link", name=f"Run {missed}")).to_be_visible()

        page.get_by_role("button", name="New rule from this call").click()
        answer = page.locator("textarea:focus")
        expect(answer).to_have_count(1)  # the new rule is open, its answer ready for typing
        answer.fill("9 pm")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator(".q-notification").filter(has_text="saved as version 2")).to_be_visible()
        expect(page.get_by_text("None: every call so far matched a rule.")).to_be_visible()

        answered = server.start_run("Clock", {"1": "Asia/Tokyo"})
        open_path(page, f"/runs/{answered}")
        expect(run_status(page, answered)).to_have_text("completed")
        expect(run_result(page)).to_contain_text("The current time in Asia/Tokyo is 9 pm.")
        rules = server.http.get(f"/api/handlers/{saved['id']}").json()["spec"]["rules"]
        assert [r["name"] for r in rules] == ["Oslo", "get_current_time(timezone='Asia/Tokyo')"]
    finally:
        server.http.delete(f"/api/handlers/{saved['id']}")


def test_drag_rule_by_its_handle_reorders_rules(page: Page, server: Console):
    rules = [{**OSLO, "name": name} for name in ("first", "second", "third")]
    saved = server.http.post(
        "/api/handlers",
        json={
            "agent_id": server.agent_id("Clock"),
            "tool_name": "get_current_time",
            "kind": "rules",
            "spec": {"rules": rules},
        },
    ).json()
    try:
        page.set_viewport_size({"width": 1280, "height": 2400})  # the three rules on screen at once, no scrolling
        open_path(page, "/handlers")
        clock_tool(page).click()
        handles = page.locator(".rule-drag")
        expect(handles).to_have_count(3)
        expect(page.get_by_text("None: every call so far matched a rule.")).to_be_visible()  # the layout is final

        source, target = handles.nth(2).bounding_box(), handles.nth(0).bounding_box()
        assert source is not None and target is not None
        page.mouse.move(source["x"] + source["width"] / 2, source["y"] + source["height"] / 2)
        page.mouse.down()  # a person's drag: press on the handle, move in steps onto the first rule, let go
        page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 2, steps=20)
        page.mouse.up()
        expect(page.get_by_placeholder("name, e.g. Oslo").first).to_have_value("third")
        page.get_by_role("button", name="Save", exact=True).click()

        expect(page.locator(".q-notification").filter(has_text="saved as version 2")).to_be_visible()
        stored = server.http.get(f"/api/handlers/{saved['id']}").json()["spec"]["rules"]
        assert [r["name"] for r in stored] == ["third", "first", "second"]
    finally:
        server.http.delete(f"/api/handlers/{saved['id']}")


def clock_tool(page: Page) -> Locator:
    """The Clock agent's get_current_time row on the handlers page (other agents have a tool of that name)."""
    card = page.locator(".q-card").filter(has=page.get_by_text("Clock", exact=True))
    return card.locator(".cursor-pointer").filter(has_text="get_current_time")


def _cancel_waiting_clock_runs(server: Console) -> None:
    """Cancel the Clock runs other tests on this console left waiting on a round, and wait until none waits."""
    query = {"agent_id": server.agent_id("Clock"), "status": "awaiting_tool_calls", "per_page": 100}

    def waiting() -> list[int]:
        return [run["task_id"] for run in server.http.get("/api/runs", params=query).json()["runs"]]

    if task_ids := waiting():
        server.http.post("/api/runs/bulk", json={"action": "cancel", "task_ids": task_ids}).raise_for_status()
    deadline = time.monotonic() + 30
    while waiting() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert waiting() == []
