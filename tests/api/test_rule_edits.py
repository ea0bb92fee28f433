"""Editing a saved rules handler's rules through the API: duplicate, reorder, turn off and on; the platform gets
what the edited rules answer."""

from __future__ import annotations

from typing import Any

from app.runtime import Runtime
from tests.builders import CLOCK, Console


def _rule(name: str, output: str, zone: str | None = None) -> dict[str, Any]:
    when = [{"kind": "equals", "path": "timezone", "value": zone}] if zone else []
    return {"name": name, "when": when, "response": {"output": output, "is_error": False}}


async def _handler(console: Console, *rules: dict[str, Any]) -> dict[str, Any]:
    return await console.save_handler(
        agent_id=CLOCK, tool_name="get_current_time", kind="rules", mode="auto", spec={"rules": list(rules)}
    )


async def _result(console: Console, zone: str = "UTC") -> str:
    run = await console.wait_for_status(await console.start(CLOCK, {"1": zone}), "completed", acknowledged=True)
    return str(run["result"])


async def test_turn_rule_off_skips_it_and_on_again_uses_it(console: Console, runtime: Runtime):
    saved = await _handler(console, _rule("first", "one"), _rule("second", "two"))

    off = await console.put(f"/api/handlers/{saved['id']}/rules/1/enabled", json={"enabled": False})

    assert off.status_code == 200, off.text
    assert off.json()["version"] == 2
    assert off.json()["spec"]["rules"][0]["enabled"] is False
    assert await _result(console) == "The current time in UTC is two."
    on = await console.put(f"/api/handlers/{saved['id']}/rules/1/enabled", json={"enabled": True})
    assert "enabled" not in on.json()["spec"]["rules"][0]
    assert await _result(console) == "The current time in UTC is one."


async def test_turn_rule_off_twice_writes_one_version(console: Console):
    saved = await _handler(console, _rule("first", "one"))
    for _ in range(2):
        response = await console.put(f"/api/handlers/{saved['id']}/rules/1/enabled", json={"enabled": False})
        assert response.status_code == 200, response.text
    versions = (await console.get(f"/api/handlers/{saved['id']}/versions")).json()
    assert [(v["version"], v["note"]) for v in versions] == [(2, "turned rule 1 (first) off"), (1, "")]


async def test_duplicate_rule_twice_gives_each_copy_its_own_name(console: Console):
    """Counts across runs are kept by rule name: copies named alike would share one."""
    saved = await _handler(console, _rule("Oslo", "oslo", "Europe/Oslo"), _rule("", "other"))
    for number in (1, 1, 4, 4):
        response = await console.post(f"/api/handlers/{saved['id']}/rules/{number}/duplicate", json={})
        assert response.status_code == 200, response.text

    names = [r["name"] for r in response.json()["spec"]["rules"]]

    assert names == ["Oslo", "Oslo (copy 2)", "Oslo (copy)", "", "copy 2 of rule 4", "copy of rule 4"]


async def test_duplicate_rule_inserts_copy_after_it(console: Console):
    saved = await _handler(console, _rule("Oslo", "oslo", "Europe/Oslo"), _rule("any", "other"))

    response = await console.post(f"/api/handlers/{saved['id']}/rules/1/duplicate", json={})

    assert response.status_code == 200, response.text
    rules = response.json()["spec"]["rules"]
    assert [r["name"] for r in rules] == ["Oslo", "Oslo (copy)", "any"]
    assert rules[1]["when"] == rules[0]["when"] and rules[1]["response"] == rules[0]["response"]


async def test_reorder_rules_changes_which_answers(console: Console, runtime: Runtime):
    saved = await _handler(console, _rule("first", "one"), _rule("second", "two"), _rule("third", "three"))

    response = await console.put(f"/api/handlers/{saved['id']}/rules/order", json={"order": [3, 1, 2]})

    assert response.status_code == 200, response.text
    assert [r["name"] for r in response.json()["spec"]["rules"]] == ["third", "first", "second"]
    assert await _result(console) == "The current time in UTC is three."


async def test_reorder_rules_not_a_permutation_is_422(console: Console):
    saved = await _handler(console, _rule("first", "one"), _rule("second", "two"))
    for order in ([1, 1], [1], [1, 2, 3]):
        response = await console.put(f"/api/handlers/{saved['id']}/rules/order", json={"order": order})
        assert response.status_code == 422, response.text
        assert "each rule number from 1 to 2 once" in response.json()["error"]["message"]
    assert (await console.handlers())["get_current_time"]["version"] == 1


async def test_rule_edits_on_unknown_rule_or_other_kind_are_refused(console: Console):
    saved = await _handler(console, _rule("first", "one"))
    missing = await console.post(f"/api/handlers/{saved['id']}/rules/2/duplicate", json={})
    assert missing.status_code == 404
    assert "no rule 2: the handler has 1 rule(s)" in missing.json()["error"]["message"]
    assert (await console.put("/api/handlers/999/rules/1/enabled", json={"enabled": False})).status_code == 404
    static = await console.save_handler(agent_id=CLOCK, tool_name="get_current_time", kind="static", spec={})
    other = await console.put(f"/api/handlers/{static['id']}/rules/1/enabled", json={"enabled": False})
    assert other.status_code == 422
    assert "is a static handler: only a rules handler has rules" in other.json()["error"]["message"]
