"""Edge cases of the pages, through NiceGUI's simulated user."""

from __future__ import annotations

import httpx
import pytest
from nicegui.testing import User

from tests.builders import encode, make_status, sign


async def test_open_run_page_id_beyond_int64_shows_not_found(
    user: User, console: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    """``/runs/99999999999999999999``: ``run.page`` catches NotFound and ValueError, not the OverflowError
    raised binding the id into SQLite, so the page stays blank and the log gets a traceback."""
    try:
        await user.open("/runs/99999999999999999999")
        await user.should_see("No run with task_id 99999999999999999999")
        assert not [r for r in caplog.get_records("call") if r.levelname == "ERROR"]
    finally:
        caplog.clear()  # the user fixture would otherwise fail in teardown and break the tests after this one


async def test_submit_json_mode_nan_refused_as_not_json(user: User, console: httpx.AsyncClient):
    """JSON mode "checks that the field parses": Python's json.loads accepts ``NaN`` / ``Infinity`` (not JSON),
    and the console then sends the output ``NaN`` as if it were JSON."""
    raw = encode(make_status(7501))
    assert (await console.post("/webhooks/sudoiq", content=raw, headers=sign(raw, msg_id="msg_nan"))).status_code == 200
    [round_] = (await console.get("/api/rounds")).json()
    await user.open("/")
    await user.should_see(marker="result-call_1")
    user.find(marker="result-call_1").type("NaN")
    user.find(marker="mode-call_1").elements.pop().value = "JSON"
    user.find(marker=f"submit-{round_['id']}").click()
    await user.should_see("result is not JSON")
