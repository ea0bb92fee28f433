"""The handler editor in NiceGUI's simulated browser: unmatched calls with the nearest rule's diff, *New rule from
this call*, and editing rules (duplicate, drag to reorder, turn off)."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from nicegui.testing import User

from app.runtime import Runtime
from tests.builders import CLOCK, Console, open_handler_editor, settled, wait_for

OSLO = {
    "name": "Oslo",
    "when": [{"kind": "equals", "path": "timezone", "value": "Europe/Oslo"}],
    "response": {"output": "noon in Oslo", "is_error": False},
}


async def _rules_handler(console: Console, *rules: dict[str, Any]) -> int:
    saved = await console.save_handler(
        agent_id=CLOCK, tool_name="get_current_time", kind="rules", mode="auto", spec={"rules": list(rules or [OSLO])}
    )
    return int(saved["id"])


async def _unmatched_run(console: Console, handler_id: int, zone: str = "Asia/Tokyo") -> dict[str, Any]:
    """Run Clock with ``zone`` until it completed and its call is listed as unmatched; that call."""
    await console.wait_for_status(await console.start(CLOCK, {"1": zone}), "completed")

    async def listed() -> list[dict[str, Any]]:
        calls = (await console.get(f"/api/handlers/{handler_id}/unmatched")).json()
        return [c for c in calls if c["arguments"] == {"timezone": zone}]

    return dict((await wait_for(listed))[0])


async def test_unmatched_call_shows_nearest_rule_diff(user: User, console: Console, runtime: Runtime):
    handler_id = await _rules_handler(console)
    call = await _unmatched_run(console, handler_id)

    await open_handler_editor(user)

    await user.should_see("Unmatched calls · 1")
    await user.should_see(f"Run {call['task_id']}")
    await user.should_see('{"timezone": "Asia/Tokyo"}')
    await user.should_see("Nearest: rule 1 (Oslo), 0 of 1 conditions match")
    await user.should_see("timezone: expected 'Europe/Oslo', got 'Asia/Tokyo'")
    await user.should_see("error result")


async def test_unmatched_call_appears_while_editor_is_open(user: User, console: Console, runtime: Runtime):
    handler_id = await _rules_handler(console)
    await open_handler_editor(user)
    await user.should_see("None: every call so far matched a rule.")

    await _unmatched_run(console, handler_id, "America/Lima")

    await user.should_see("Unmatched calls · 1")
    await user.should_see("timezone: expected 'Europe/Oslo', got 'America/Lima'")


async def test_new_rule_from_call_then_save_answers_next_run(user: User, console: Console, runtime: Runtime):
    handler_id = await _rules_handler(console)
    call = await _unmatched_run(console, handler_id)
    await open_handler_editor(user)
    await user.should_see(marker=f"unmatched-{call['id']}-new-rule")

    await settled(lambda: user.find(marker=f"unmatched-{call['id']}-new-rule").click())
    await user.should_see("Rule 2 added")
    assert user.find(marker="rule-2-name").elements.pop().value == "get_current_time(timezone='Asia/Tokyo')"  # type: ignore[attr-defined]
    assert user.find(marker="rule-2-when-1-value").elements.pop().value == "Asia/Tokyo"  # type: ignore[attr-defined]
    user.find(marker="rule-2-output").type("9 pm")
    user.find(marker="save-handler").click()

    await user.should_see("saved as version 2")
    await user.should_see("None: every call so far matched a rule.")
    handler = (await console.handlers())["get_current_time"]
    rules = handler["spec"]["rules"]
    assert rules[1]["when"] == [{"kind": "equals", "path": "timezone", "value": "Asia/Tokyo"}]
    [note] = [
        v["note"] for v in (await console.get(f"/api/handlers/{handler['id']}/versions")).json() if v["version"] == 2
    ]
    assert (
        note == f"added rule {rules[1]['name']!r} from an unmatched call (run {call['task_id']}, round 1)"
    )  # as the API
    run = await console.wait_for_status(await console.start(CLOCK, {"1": "Asia/Tokyo"}), "completed", acknowledged=True)
    assert run["result"] == "The current time in Asia/Tokyo is 9 pm."


async def test_clear_unmatched_empties_list(user: User, console: Console, runtime: Runtime):
    handler_id = await _rules_handler(console)
    await _unmatched_run(console, handler_id)
    await open_handler_editor(user)
    await user.should_see("Unmatched calls · 1")

    user.find(marker="unmatched-clear").click()

    await user.should_see("1 unmatched call(s) cleared")
    await user.should_see("None: every call so far matched a rule.")
    assert (await console.get(f"/api/handlers/{handler_id}/unmatched")).json() == []


async def test_duplicate_rule_then_save(user: User, console: Console):
    await _rules_handler(console)
    await open_handler_editor(user)
    await user.should_see(marker="rule-1-duplicate")

    user.find(marker="rule-1-duplicate").click()
    await user.should_see(marker="rule-2")
    user.find(marker="save-handler").click()

    await user.should_see("saved as version 2")
    rules = (await console.handlers())["get_current_time"]["spec"]["rules"]
    assert [r["name"] for r in rules] == ["Oslo", "Oslo (copy)"]
    assert rules[1]["when"] == rules[0]["when"]


async def test_turn_rule_off_then_save(user: User, console: Console):
    await _rules_handler(console)
    await open_handler_editor(user)
    await user.should_see(marker="rule-1-enabled")

    user.find(marker="rule-1-enabled").click()
    user.find(marker="save-handler").click()

    await user.should_see("saved as version 2")
    [rule] = (await console.handlers())["get_current_time"]["spec"]["rules"]
    assert rule["enabled"] is False
    assert "opacity-60" in user.find(marker="rule-1").elements.pop().classes, "an off rule is drawn faded"


async def test_drag_rule_to_top_then_save(user: User, console: Console):
    names = ["first", "second", "third"]
    await _rules_handler(console, *({**OSLO, "name": name} for name in names))
    await open_handler_editor(user)
    await user.should_see(marker="rule-3")
    listed = user.find(marker="rule-list").elements.pop()
    third = user.find(marker="rule-3").elements.pop()

    user.find(marker="rule-list").trigger(
        "sortend", {"item_id": third.id, "from_id": listed.id, "to_id": listed.id, "old_index": 2, "new_index": 0}
    )
    await user.should_see(marker="rule-1")
    user.find(marker="save-handler").click()

    await user.should_see("saved as version 2")
    rules = (await console.handlers())["get_current_time"]["spec"]["rules"]
    assert [r["name"] for r in rules] == ["third", "first", "second"]
    assert user.find(marker="rule-1-name").elements.pop().value == "third"  # type: ignore[attr-defined]
    assert isinstance(listed, ui.column)
