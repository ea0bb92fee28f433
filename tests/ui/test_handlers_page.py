"""The Handlers page in NiceGUI's simulated browser: edit, save, switch modes, restore, delete."""

from __future__ import annotations

import json

import pytest
from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User

from app.runtime import Runtime
from app.ui.components import handler_rules
from tests.builders import CLOCK, DEEP_JSON, Console, open_handler_editor, set_value, settled


async def test_save_static_text_then_json_increases_version(user: User, console: Console):
    await open_handler_editor(user)
    user.find(marker="static-output").type("12:00 UTC")
    user.find(marker="save-handler").click()
    await user.should_see("saved as version 1")
    set_value(user, "static-format", "JSON")
    set_value(user, "static-json", '{"time": "12:00", "tz": "UTC"}')
    user.find(marker="save-handler").click()
    await user.should_see("saved as version 2")
    handler = (await console.handlers())["get_current_time"]
    assert (handler["kind"], handler["version"]) == ("static", 2)
    assert handler["spec"] == {"output": {"time": "12:00", "tz": "UTC"}, "is_error": False}
    await user.should_see("static · v2")


async def test_save_static_bad_json_shows_problem(user: User, console: Console):
    await open_handler_editor(user)
    set_value(user, "static-format", "JSON")
    set_value(user, "static-json", '{"time": ')
    user.find(marker="save-handler").click()
    await user.should_see("output: not JSON")
    assert await console.handlers() == {}


async def test_save_rules_with_matchers_shows_in_api(user: User, console: Console):
    await open_handler_editor(user)
    set_value(user, "kind", "rules")
    user.find(marker="add-rule").click()
    user.find(marker="rule-1-name").type("Lisbon")
    user.find(marker="rule-1-when-1-path").type("timezone")
    user.find(marker="rule-1-when-1-value").type("Europe/Lisbon")
    user.find(marker="rule-1-output").type("noon in {{ args.timezone }}")
    user.find(marker="rule-1-add-when").click()
    set_value(user, "rule-1-when-2-kind", "regex")
    user.find(marker="rule-1-when-2-path").type("timezone")
    user.find(marker="rule-1-when-2-value").type("^Europe/")
    user.find(marker="default-enabled").click()
    user.find(marker="default-output").type("unknown timezone")
    user.find(marker="save-handler").click()
    await user.should_see("saved as version 1")
    spec = (await console.handlers())["get_current_time"]["spec"]
    assert spec["rules"] == [
        {
            "name": "Lisbon",
            "when": [
                {"kind": "equals", "path": "timezone", "value": "Europe/Lisbon"},
                {"kind": "regex", "path": "timezone", "value": "^Europe/"},
            ],
            "response": {"output": "noon in {{ args.timezone }}", "is_error": False},
        }
    ]
    assert spec["default"] == {"output": "unknown timezone", "is_error": False}


async def test_save_python_template_shows_in_api(user: User, console: Console):
    await open_handler_editor(user)
    set_value(user, "kind", "python")
    set_value(user, "editor-mode", "suggest")
    user.find(marker="save-handler").click()
    await user.should_see("saved as version 1")
    handler = (await console.handlers())["get_current_time"]
    assert (handler["kind"], handler["mode"]) == ("python", "suggest")
    assert "async def handle(args: dict, agent_id: str, task_id: int) -> str:" in handler["spec"]["code"]


async def test_press_ctrl_s_saves(user: User, console: Console):
    await open_handler_editor(user)
    user.find(marker="static-output").type("12:00 UTC")
    user.find(marker="handler-editor").trigger("keydown.ctrl.s.prevent")
    await user.should_see("saved as version 1")
    assert (await console.handlers())["get_current_time"]["spec"]["output"] == "12:00 UTC"


async def test_switch_kind_keeps_each_draft(user: User):
    await open_handler_editor(user)
    user.find(marker="static-output").type("12:00 UTC")
    set_value(user, "kind", "rules")
    user.find(marker="add-rule").click()
    user.find(marker="rule-1-name").type("Lisbon")
    set_value(user, "kind", "python")
    set_value(user, "kind", "static")
    assert user.find(marker="static-output").elements.pop().value == "12:00 UTC"  # type: ignore[attr-defined]
    set_value(user, "kind", "rules")
    await user.should_see("Lisbon")


async def test_save_invalid_regex_shows_problem_naming_rule(user: User, console: Console):
    await open_handler_editor(user)
    set_value(user, "kind", "rules")
    user.find(marker="add-rule").click()
    user.find(marker="rule-1-name").type("Lisbon")
    set_value(user, "rule-1-when-1-kind", "regex")
    user.find(marker="rule-1-when-1-path").type("timezone")
    user.find(marker="rule-1-when-1-value").type("(Europe")
    user.find(marker="save-handler").click()
    await user.should_see("rule 1 (Lisbon), when[0].value: bad regex '(Europe'")
    assert "border-red-500" in user.find(marker="rule-1").elements.pop().classes, "the rule named is outlined"
    assert await console.handlers() == {}


async def test_save_python_syntax_error_shows_line(user: User, console: Console):
    await open_handler_editor(user)
    set_value(user, "kind", "python")
    set_value(user, "python-code", 'async def handle(args, agent_id, task_id):\n    return ("ok"\n')
    user.find(marker="save-handler").click()
    await user.should_see("line 2: SyntaxError")
    code = user.find(marker="python-code").elements.pop()
    assert [d["line"] for d in code.decorations] == [2]  # type: ignore[attr-defined]
    assert await console.handlers() == {}


async def test_switch_mode_from_list_saves_new_version(user: User, console: Console):
    saved = await console.post(
        "/api/handlers", json={"agent_id": CLOCK, "tool_name": "get_current_time", "kind": "static", "spec": {}}
    )
    assert saved.status_code == 200, saved.text
    await user.open("/handlers")
    await user.should_see("static · v1", retries=100)
    set_value(user, "mode-Clock-get_current_time", "auto")
    await user.should_see("Clock · get_current_time: auto (version 2)")
    handler = (await console.handlers())["get_current_time"]
    assert (handler["mode"], handler["version"]) == ("auto", 2)


async def test_switch_mode_without_handler_opens_editor(user: User, console: Console):
    await user.open("/handlers")
    await user.should_see(marker="mode-Trip_planner-get_weather", retries=100)
    # the page's handler draws the editor in steps: wait until it is done, not just until its heading shows
    await settled(lambda: set_value(user, "mode-Trip_planner-get_weather", "suggest"), within=15)
    await user.should_see("get_weather has no handler yet")
    assert user.find(marker="editor-mode").elements.pop().value == "suggest"  # type: ignore[attr-defined]
    assert user.find(marker="mode-Trip_planner-get_weather").elements.pop().value == "manual"  # type: ignore[attr-defined]
    assert await console.handlers() == {}


async def test_restore_version_reloads_editor(user: User, console: Console):
    await open_handler_editor(user)
    user.find(marker="static-output").type("first answer")
    user.find(marker="save-handler").click()
    await user.should_see("saved as version 1")
    user.find(marker="static-output").clear().type("second answer")
    user.find(marker="save-handler").click()
    await user.should_see("saved as version 2")
    await user.should_see(marker="version-2")  # the version list reloads after the save
    user.find(marker="version-1-restore").click()
    await user.should_see("Version 1 restored as version 3")
    await user.should_see(marker="version-3")
    assert user.find(marker="static-output").elements.pop().value == "first answer"  # type: ignore[attr-defined]
    handler = (await console.handlers())["get_current_time"]
    assert (handler["version"], handler["spec"]["output"]) == (3, "first answer")


async def test_delete_handler_after_confirm(user: User, console: Console):
    await open_handler_editor(user)
    user.find(marker="static-output").type("12:00 UTC")
    user.find(marker="save-handler").click()
    await user.should_see("saved as version 1")
    user.find(marker="delete-handler").click()
    await user.should_see("Delete the handler of get_current_time?")
    user.find(marker="confirm-delete").click()
    await user.should_see("Handler of get_current_time deleted")
    await user.should_see("no handler yet")
    assert await console.handlers() == {}


async def test_run_with_static_auto_handler_completes_with_its_output(user: User, console: Console, runtime: Runtime):
    await open_handler_editor(user)
    user.find(marker="static-output").type("2026-12-24T18:00:00+00:00")
    set_value(user, "editor-mode", "auto")
    user.find(marker="save-handler").click()
    await user.should_see("saved as version 1")
    run = await console.wait_for_status(await console.start(CLOCK, {"1": "UTC"}), "completed", acknowledged=True)
    assert "2026-12-24T18:00:00+00:00" in str(run["result"])


async def test_save_python_over_limit_refused(user: User, console: Console):
    await open_handler_editor(user)
    set_value(user, "kind", "python")
    set_value(user, "python-code", "async def handle(args, agent_id, task_id):\n    return 'ok'\n" + "#" * 100_001)
    await user.should_see("the limit is 100,000")
    user.find(marker="save-handler").click()
    await user.should_see("the code is over 100,000 characters")
    assert await console.handlers() == {}


async def test_save_in_one_tab_offers_reload_in_other(create_user, console: Console):
    first, second = create_user(), create_user()
    await open_handler_editor(first)
    await open_handler_editor(second)
    first.find(marker="static-output").type("12:00 UTC")
    first.find(marker="save-handler").click()
    await first.should_see("saved as version 1")
    await second.should_see("Version 1 was saved elsewhere.")
    second.find(marker="reload-handler").click()
    await second.should_see("version 1 · static · manual")
    assert second.find(marker="static-output").elements.pop().value == "12:00 UTC"  # type: ignore[attr-defined]


async def test_import_config_file_in_page_refuses_bad_file_then_imports(user: User, console: Console):
    document = {
        "format": "tooldesk-config",
        "version": 1,
        "agents": [],
        "handlers": [
            {
                "agent_id": CLOCK,
                "tool_name": "get_current_time",
                "kind": "static",
                "mode": "auto",
                "spec": {"output": "from a file"},
                "behaviour": {},
            }
        ],
    }
    await user.open("/handlers")
    await user.should_see(marker="import-config")
    user.find(marker="import-config").click()
    upload = user.find(marker="import-upload").elements.pop()
    assert isinstance(upload, ui.upload)
    await upload.handle_uploads(
        [
            SmallFileUpload(
                name="bad.json",
                content_type="application/json",
                _data=b'{"format": "tooldesk-config", "handlers": [{"kind": 1}]}',
            )
        ]
    )
    await user.should_see("Nothing was imported")
    await upload.handle_uploads(
        [SmallFileUpload(name="ok.json", content_type="application/json", _data=json.dumps(document).encode())]
    )
    await user.should_see("Imported: ")
    handlers = (await console.get("/api/handlers")).json()
    assert [(h["tool_name"], h["spec"]["output"]) for h in handlers] == [("get_current_time", "from a file")]


async def test_save_static_deeply_nested_json_shows_problem(
    user: User, console: Console, caplog: pytest.LogCaptureFixture
):
    """Regression: a JSON output nested deeper than Python's recursion limit (``[[[...]]]``, 1,000 levels)
    raises RecursionError out of Save's click handler (``StaticFields.spec`` catches only JSONDecodeError): a
    traceback in the log and no message on screen, where any other bad JSON shows "output: not JSON"."""
    try:
        await user.open("/handlers")
        await user.should_see(marker="tool-Clock-get_current_time", retries=100)
        user.find(marker="tool-Clock-get_current_time").click()
        await user.should_see(marker="save-handler")
        set_value(user, "static-format", "JSON")
        set_value(user, "static-json", DEEP_JSON)
        user.find(marker="save-handler").click()
        await user.should_see("output: not JSON")
    finally:
        errors = [r.getMessage() for r in caplog.get_records("call") if r.levelname == "ERROR"]
        caplog.clear()  # keep NiceGUI's fixture teardown clean so the next UI test can start
    assert errors == []


async def test_editor_of_a_rules_handler_with_many_rules_draws_the_first_and_saves_all(
    user: User, console: Console, monkeypatch: pytest.MonkeyPatch
):
    """300 rules held the console about 4 s when the editor opened, 30,000 (a 3.4 MB save, within the API's 5 MB)
    for minutes, webhook included: the editor draws the first ``RULES_SHOWN`` (100; 10 here, to keep the test
    quick), *Show more* the next, and a save keeps them all."""
    monkeypatch.setattr(handler_rules, "RULES_SHOWN", 10)
    rules = [
        {
            "name": f"r{i}",
            "when": [{"kind": "equals", "path": "timezone", "value": f"tz{i}"}],
            "response": {"output": "x"},
        }
        for i in range(25)
    ]
    await console.save_handler(agent_id=CLOCK, tool_name="get_current_time", kind="rules", spec={"rules": rules})
    await open_handler_editor(user)
    await user.should_see(marker="rule-10")
    await user.should_not_see(marker="rule-11")
    await user.should_see("Show more (10 of 15 more rules)")
    user.find(marker="more-rules").click()
    await user.should_see(marker="rule-20")
    await user.should_not_see(marker="rule-21")
    await user.should_see("Show more (5 of 5 more rules)")
    user.find(marker="add-rule").click()  # a new rule goes last and is drawn, with those before it
    await user.should_see(marker="rule-26")
    await user.should_not_see(marker="more-rules")
    set_value(user, "rule-26-name", "added")
    user.find(marker="save-handler").click()
    await user.should_see("saved as version 2")
    saved = (await console.handlers())["get_current_time"]["spec"]["rules"]
    assert [rule["name"] for rule in saved] == [f"r{i}" for i in range(25)] + ["added"]


async def test_handlers_page_with_an_agent_of_thousands_of_tools_draws_only_the_first(user: User, console: Console):
    """An imported agent of 20,000 tools held the event loop about 30 s each time the page opened: the list shows an
    agent's first 100 tools, and *Show more* the next 100."""
    document = (await console.get("/api/config")).json()
    tools = [{"name": f"t{i}", "description": "", "parameters": {}} for i in range(1000)]
    agent = {"agent_id": "9e0f7c1a-0000-4000-8000-000000000001", "name": "Crowded", "tools": tools, "inputs": []}
    document["agents"].append(agent)
    imported = await console.post("/api/config", json=document)
    assert imported.status_code == 200, imported.text
    await console.save_handler(agent_id=agent["agent_id"], tool_name="t500", kind="static", spec={"output": "x"})
    await open_handler_editor(user)
    await user.should_see(marker="tool-Crowded-t0", retries=100)
    await user.should_see(marker="tool-Crowded-t99")
    await user.should_see(marker="tool-Crowded-t500")  # it has a handler: listed wherever it is
    await user.should_not_see(marker="tool-Crowded-t100")
    await user.should_not_see(marker="tool-Crowded-t999")
    await user.should_see("Show more (100 of 899 more tools)")
    user.find(marker="more-tools-Crowded").click()
    await user.should_see(marker="tool-Crowded-t199")
    await user.should_not_see(marker="tool-Crowded-t200")
