"""Regression: a result in JSON mode nested deeper than Python's recursion limit (``[[[...]]]``, 1,000 levels)
raises RecursionError out of Submit's click handler (``CallField.problem`` catches JSONDecodeError and
ValueError, not RecursionError): a traceback in the log and no message on screen."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from nicegui import ui
from nicegui.testing import User

from tests.builders import encode, make_status, sign

DEEP = "[" * 1000 + "]" * 1000


def _set(user: User, marker: str, value: Any) -> None:
    element = user.find(marker=marker).elements.pop()
    assert isinstance(element, ui.element)
    element.set_value(value)  # type: ignore[attr-defined]


async def test_submit_inbox_deeply_nested_json_result_shows_problem(
    user: User, console: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    try:
        raw = encode(make_status(7301))
        response = await console.post("/webhooks/sudoiq", content=raw, headers=sign(raw, msg_id="msg_deep"))
        assert response.status_code == 200, response.text
        await user.open("/")
        await user.should_see("run 7301 · round 1")
        _set(user, "mode-call_1", "JSON")
        _set(user, "result-call_1", DEEP)
        [round_] = (await console.get("/api/rounds")).json()
        user.find(marker=f"submit-{round_['id']}").click()
        await user.should_see("result is not JSON")
    finally:
        errors = [r.getMessage() for r in caplog.get_records("call") if r.levelname == "ERROR"]
        caplog.clear()  # keep NiceGUI's fixture teardown clean so the next UI test can start
    assert errors == []
