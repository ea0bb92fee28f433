"""Downloads on the Handlers page (Export as Python, Export config) hand a file to the browser and leave the page."""

from __future__ import annotations

import json

from nicegui.testing import User

from tests.builders import CLOCK, Console, open_handler_editor


async def test_export_python_downloads_module_and_page_stays(user: User, console: Console):
    await console.save_handler(agent_id=CLOCK, tool_name="get_current_time", kind="static", spec={"output": "12:00"})
    await open_handler_editor(user)
    user.find(marker=f"export-python-{CLOCK}").click()
    response = await user.download.next(timeout=5)
    source = response.content.decode()
    assert "async def get_current_time(args" in source
    assert "tools = {" in source
    await user.should_see("Export config")  # still the Handlers page, with its editor open
    await user.should_see(marker="save-handler")


async def test_export_config_downloads_document_and_page_stays(user: User, console: Console):
    await console.save_handler(agent_id=CLOCK, tool_name="get_current_time", kind="static", spec={"output": "12:00"})
    await open_handler_editor(user)
    user.find(marker="export-config").click()
    response = await user.download.next(timeout=5)
    document = json.loads(response.content)
    assert document["format"] == "tooldesk-config"
    assert [(h["tool_name"], h["spec"]["output"]) for h in document["handlers"]] == [("get_current_time", "12:00")]
    await user.should_see(marker="save-handler")
