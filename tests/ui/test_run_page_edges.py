"""A run's page: bad task_ids in the URL, and live updates while a dialog is open."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from nicegui.testing import User

from tests.api.test_replay import TRIP, _answer, _pending
from tests.builders import take_errors


async def test_open_run_page_with_superscript_digit_says_no_run(
    user: User, console: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    """Regression: ``_task_id`` checks ``str.isdigit()``, which is true for '²', then ``int('²')`` raises ValueError: the
    sub page fails with a traceback in the log instead of "No run with task_id ²"."""
    await user.open("/runs/%C2%B2")
    await asyncio.sleep(0.2)
    errors = take_errors(caplog)
    assert errors == []
    await user.should_see("No run with task_id ²")


async def test_run_page_live_update_keeps_replay_dialog_open(user: User, console: httpx.AsyncClient):
    """Regression: Replay while the original is still running: the dialog is built inside the page body, and every change
    of the run clears and rebuilds that body, so the dialog vanishes while the person fills it in."""
    original = (await console.post(f"/api/agents/{TRIP}/runs", json={"string_inputs": {"1": "Bergen"}})).json()[
        "task_id"
    ]
    await _answer(
        console, await _pending(console, original, 1), {"get_weather": "Rain, 8 °C", "search_flights": "SK 4609"}
    )
    second = await _pending(console, original, 2)
    await user.open(f"/runs/{original}")
    await user.should_see(marker="replay-run")
    user.find(marker="replay-run").click()
    await user.should_see(marker="replay-start")
    await _answer(console, second, {"book_umbrella": "umbrella at arrivals"})  # the original moves on
    await asyncio.sleep(0.5)
    await user.should_see(marker="replay-start")
