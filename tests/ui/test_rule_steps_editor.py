"""The rules editor's *Sequence and state*: answers after the first, after-end mode, scope and the run's state are
edited, saved and tested; bad JSON is named before anything is saved."""

from __future__ import annotations

from nicegui.testing import User

from app.runtime import Runtime
from app.services import rule_state
from tests.builders import CLOCK, Console, open_handler_editor, set_value


async def _one_rule(user: User) -> None:
    await open_handler_editor(user)
    set_value(user, "kind", "rules")
    user.find(marker="add-rule").click()
    set_value(user, "rule-1-when-1-kind", "any")
    user.find(marker="rule-1-name").type("login")
    user.find(marker="rule-1-output").type("A")


async def test_save_sequence_and_state_shows_in_api(user: User, console: Console):
    await _one_rule(user)
    user.find(marker="rule-1-add-then").click()
    user.find(marker="rule-1-then-1-output").type("B {{ call_count }}")
    set_value(user, "rule-1-after-end", "fail")
    set_value(user, "rule-1-scope", "all_runs")
    set_value(user, "rule-1-when-state", '{"user": "ada"}')
    set_value(user, "rule-1-set-state", '{"logged_in": true}')
    user.find(marker="save-handler").click()
    await user.should_see("saved as version 1")

    [rule] = (await console.handlers())["get_current_time"]["spec"]["rules"]
    assert rule == {
        "name": "login",
        "when": [{"kind": "any", "path": "", "value": None}],
        "response": {"output": "A", "is_error": False},
        "then": [{"output": "B {{ call_count }}", "is_error": False}],
        "after_end": "fail",
        "scope": "all_runs",
        "when_state": {"user": "ada"},
        "set_state": {"logged_in": True},
    }


async def test_save_state_bad_json_names_rule_and_field(user: User, console: Console):
    await _one_rule(user)
    set_value(user, "rule-1-set-state", '{"logged_in": tru')
    user.find(marker="save-handler").click()
    await user.should_see("rule 1, set_state: not JSON")
    set_value(user, "rule-1-set-state", "[1, 2]")
    user.find(marker="save-handler").click()
    await user.should_see('rule 1, set_state: must be a JSON object such as {"logged_in": true}, not [1, 2]')
    assert await console.handlers() == {}


async def test_saved_sequence_opens_with_its_answers(user: User, console: Console):
    spec = {"rules": [{"name": "s", "when": [], "response": {"output": "first"},
                       "then": [{"output": "second answer"}], "after_end": "cycle"}]}  # fmt: skip
    await console.save_handler(agent_id=CLOCK, tool_name="get_current_time", kind="rules", spec=spec)
    await open_handler_editor(user)
    await user.should_see("Sequence and state · 2 answer(s)")
    await user.should_see("Call 2")
    assert user.find(marker="rule-1-then-1-output").elements.pop().value == "second answer"  # type: ignore[attr-defined]
    assert user.find(marker="rule-1-after-end").elements.pop().value == "cycle"  # type: ignore[attr-defined]


async def test_test_as_a_later_call_in_a_given_state_shows_count_and_state(user: User, console: Console):
    await _one_rule(user)
    user.find(marker="rule-1-add-then").click()
    user.find(marker="rule-1-then-1-output").type("B for {{ state.user }}, call {{ call_count }}")
    set_value(user, "rule-1-set-state", '{"seen": 1}')
    set_value(user, "test-call-count", 2)
    set_value(user, "test-state", '{"user": "ada"}')
    user.find(marker="test-handler").click()
    with user.scope(marker="test-result"):
        await user.should_see("B for ada, call 2", retries=200)  # the first call starts the rules workers
        await user.should_see('answered as call 2 (nothing counted or stored); the run\'s state after it: '
                              '{"user": "ada", "seen": 1}')  # fmt: skip
    set_value(user, "test-state", "not json")
    user.find(marker="test-handler").click()
    await user.should_see("the run state is not JSON")
    assert await console.handlers() == {}, "Test saves nothing"


async def test_reset_counts_starts_every_rule_at_call_one_again(user: User, console: Console, runtime: Runtime):
    spec = {"rules": [{"name": "s", "when": [], "response": {"output": "first"}, "then": [{"output": "later"}],
                       "scope": "all_runs"}]}  # fmt: skip
    handler = await console.save_handler(agent_id=CLOCK, tool_name="get_current_time", kind="rules", spec=spec)
    rule_state.count_call(runtime.engine, agent_id=CLOCK, tool_name="get_current_time", rule="name:s", task_id=0)
    await open_handler_editor(user)

    user.find(marker="reset-counts").click()

    await user.should_see("get_current_time: 1 count(s) reset; every rule answers as call 1 again")
    assert (await console.get(f"/api/handlers/{handler['id']}/counts")).json()["counts"] == {}
