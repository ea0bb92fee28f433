"""The Handlers page's Test: unsaved settings run on sample arguments, from the tool's schema or a past call;
nothing is saved or sent."""

from __future__ import annotations

from nicegui.testing import User

from app.runtime import Runtime
from app.ui.components.handler_test import sample_args
from tests.builders import CLOCK, Console, open_handler_editor, set_value


async def test_test_static_shows_output(user: User, console: Console):
    await open_handler_editor(user)
    user.find(marker="static-output").type("quarter past noon")
    user.find(marker="static-is-error").click()
    user.find(marker="test-handler").click()
    await user.should_see(marker="test-output")
    with user.scope(marker="test-result"):
        await user.should_see("quarter past noon")
        await user.should_see("is_error")
        await user.should_see("static")
    assert await console.handlers() == {}, "Test saves nothing"


async def test_test_rules_renders_template_with_sample_args(user: User):
    await open_handler_editor(user)
    assert '"timezone": "example"' in user.find(marker="test-args").elements.pop().value  # type: ignore[attr-defined]
    set_value(user, "kind", "rules")
    user.find(marker="add-rule").click()
    user.find(marker="rule-1-when-1-path").type("timezone")
    user.find(marker="rule-1-when-1-value").type("Europe/Lisbon")
    user.find(marker="rule-1-output").type("noon in {{ args.timezone }}, round {{ round }}")
    set_value(user, "test-args", '{"timezone": "Europe/Lisbon"}')
    user.find(marker="test-handler").click()
    with user.scope(marker="test-result"):
        await user.should_see("noon in Europe/Lisbon, round 1", retries=50)  # the first call starts the rules workers
        await user.should_see("rule 1 (equals on timezone)")


async def test_test_python_shows_output_and_logs(user: User, runtime: Runtime):
    await open_handler_editor(user)
    set_value(user, "kind", "python")
    code = (
        "async def handle(args: dict, agent_id: str, task_id: int):\n"
        '    print("asked for", args["timezone"])\n'
        '    return {"time": "12:00", "tz": args["timezone"]}\n'
    )
    set_value(user, "python-code", code)
    set_value(user, "test-args", '{"timezone": "Asia/Tokyo"}')
    user.find(marker="test-handler").click()
    with user.scope(marker="test-result"):
        await user.should_see('{"time": "12:00", "tz": "Asia/Tokyo"}', retries=200)
        await user.should_see("asked for Asia/Tokyo")


async def test_test_args_from_past_call(user: User, console: Console):
    task_id = await console.start(CLOCK, {"1": "Asia/Tokyo"})
    await console.pending_round(task_id)
    await open_handler_editor(user)
    options = user.find(marker="test-args-source").elements.pop().options  # type: ignore[attr-defined]
    [past] = [key for key, label in options.items() if label.startswith(f"run {task_id} · round 1 · ")]
    set_value(user, "test-args-source", past)
    assert "Asia/Tokyo" in user.find(marker="test-args").elements.pop().value  # type: ignore[attr-defined]


async def test_test_args_not_object_shows_problem(user: User):
    await open_handler_editor(user)
    set_value(user, "test-args", "[1, 2]")
    user.find(marker="test-handler").click()
    await user.should_see("arguments must be a JSON object")


def test_sample_args_follow_schema():
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "date": {"type": "string", "format": "date"},
            "nights": {"type": "integer", "minimum": 2},
            "adults": {"type": "integer"},
            "refundable": {"type": "boolean"},
            "cabin": {"enum": ["economy", "business"]},
            "currency": {"type": "string", "default": "EUR"},
            "tags": {"type": "array", "items": {"type": "string", "examples": ["quiet"]}},
            "near": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"lat": {"type": "number"}}}]},
        },
    }
    assert sample_args(schema) == {
        "city": "example",
        "date": "2026-12-24",
        "nights": 2,
        "adults": 1,
        "refundable": True,
        "cabin": "economy",
        "currency": "EUR",
        "tags": ["quiet"],
        "near": {"lat": 1},
    }
    assert sample_args(None) == {}
