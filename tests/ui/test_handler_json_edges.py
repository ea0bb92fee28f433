"""Regression: a JSON output nested deeper than Python's recursion limit (``[[[...]]]``, 1,000 levels)
raises RecursionError out of Save's click handler (``StaticFields.spec`` catches only JSONDecodeError): a
traceback in the log and no message on screen, where any other bad JSON shows "output: not JSON"."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from nicegui import ui
from nicegui.testing import User

DEEP = "[" * 1000 + "]" * 1000


def _set(user: User, marker: str, value: Any) -> None:
    element = user.find(marker=marker).elements.pop()
    assert isinstance(element, ui.element)
    element.set_value(value)  # type: ignore[attr-defined]


async def test_save_static_deeply_nested_json_shows_problem(
    user: User, console: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    try:
        await user.open("/handlers")
        await user.should_see(marker="tool-Clock-get_current_time", retries=100)
        user.find(marker="tool-Clock-get_current_time").click()
        await user.should_see(marker="save-handler")
        _set(user, "static-format", "JSON")
        _set(user, "static-json", DEEP)
        user.find(marker="save-handler").click()
        await user.should_see("output: not JSON")
    finally:
        errors = [r.getMessage() for r in caplog.get_records("call") if r.levelname == "ERROR"]
        caplog.clear()  # keep NiceGUI's fixture teardown clean so the next UI test can start
    assert errors == []
