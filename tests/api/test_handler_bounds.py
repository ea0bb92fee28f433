"""The handler *Test* and saving a rules handler stay bounded: oversized templates and regex compile bombs end
in an error that names the limit, never in the console's memory."""

from __future__ import annotations

import resource

import pytest

from app.config import get_settings
from tests.builders import CLOCK, Console

GROWTH_MB = 100


@pytest.fixture
def small_template_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """0.5 s and 64 MB a call (set before the console starts, which reads the settings once)."""
    monkeypatch.setenv("TOOLDESK_TEMPLATE_TIMEOUT", "0.5")
    monkeypatch.setenv("TOOLDESK_TEMPLATE_MEMORY_MB", "64")
    get_settings.cache_clear()


def peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


async def test_test_handler_oversized_template_error_names_limit(small_template_limits: None, console: Console):
    await _template_names_limit(
        console,
        '{% for a in "x" * 40000 %}{% for b in "x" * 40000 %}{% endfor %}{% endfor %}',
        "TOOLDESK_TEMPLATE_TIMEOUT",
    )


async def test_test_handler_template_past_its_memory_error_names_limit(memory_limit_first: None, console: Console):
    await _template_names_limit(console, '{{ "%0300000000d" % 1 }}', "TOOLDESK_TEMPLATE_MEMORY_MB")


async def _template_names_limit(console: Console, template: str, limit: str) -> None:
    """*Test* of a rules handler whose default output is ``template``: an error naming ``limit``, the process's
    peak memory grown by less than ``GROWTH_MB``."""
    before = peak_mb()
    spec = {"default": {"output": template}}
    response = await console.post("/api/handlers/test", json={"kind": "rules", "spec": spec, "args": {}})
    assert response.status_code == 200, response.text
    assert response.json()["is_error"]
    assert limit in response.json()["output"]
    assert peak_mb() - before < GROWTH_MB


@pytest.fixture
def memory_limit_first(small_template_limits: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """64 MB and a 30 s time limit: a compile bomb or a huge string reaches the memory limit first however busy the
    machine (with 0.5 s, a loaded machine sometimes reached the time limit first and the test named the other
    limit)."""
    monkeypatch.setenv("TOOLDESK_TEMPLATE_TIMEOUT", "30")
    get_settings.cache_clear()


async def test_save_handler_regex_compile_bomb_refused_422_naming_limit(memory_limit_first: None, console: Console):
    before = peak_mb()
    spec = {"rules": [{"when": [{"kind": "regex", "path": "tz", "value": "((a{1000}){1000}){1000}"}]}]}
    handler = {"agent_id": CLOCK, "tool_name": "get_current_time", "kind": "rules", "spec": spec}
    response = await console.post("/api/handlers", json=handler)
    assert response.status_code == 422, response.text
    assert "limit TOOLDESK_TEMPLATE_MEMORY_MB" in response.json()["error"]["message"]
    assert peak_mb() - before < GROWTH_MB
