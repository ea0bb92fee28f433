"""Compare page: a bad task_id in the URL gets a message, never a traceback."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from nicegui.testing import User

from tests.builders import take_errors


async def test_open_compare_with_superscript_digit_says_not_a_task_id(
    user: User, console: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    """Regression: ``_task_id`` trusts ``str.isdigit()`` ('²' passes) and ``int('²')`` raises ValueError in ``refresh``."""
    await user.open("/compare?a=%C2%B2&b=1")
    await asyncio.sleep(0.3)
    errors = take_errors(caplog)
    assert errors == []
    await user.should_see("Run A: '²' is not a task_id")
