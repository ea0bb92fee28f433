"""Typed drafts, presence and expiry in a real browser (issue 8; cases C14, C15).

A typed answer survives a 10 s offline period without a reload (NiceGUI's reconnect window), a reload, and a
console restart; two signed-in people see each other on one round; the card counts down and turns Submit off at
``expires_at``.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.builders import CLOCK, free_port, sign, stop_process
from tests.e2e.conftest import NAVIGATION_TIMEOUT_MS, UI_TIMEOUT_MS
from tests.e2e.support import (
    Console,
    answer,
    assert_same_document,
    call_card,
    console_env,
    mark_document,
    open_path,
    round_card,
    sign_in,
    submit,
)

OFFLINE_SECONDS = 10
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KEY = "drafts-test-key"
SIM_AUTH = {"authorization": f"Bearer {KEY}"}
SECOND_USER, SECOND_PASSWORD = "e2e-bob", "bob-password-long-enough"


def _result(card, call_id: str):  # type: ignore[no-untyped-def]
    return call_card(card, call_id).get_by_label("Result")


def _submit_button(card):  # type: ignore[no-untyped-def]
    return card.get_by_role("button", name=re.compile(r"^Submit \d+ result"))


def _wait(condition: Callable[[], object], what: str, within: float = 60.0) -> object:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            value = condition()
        except (httpx.TransportError, sqlite3.Error):
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {within} s")


def _typed_output(database: Path, round_id: int) -> list[str]:
    """The typed drafts stored for a round (read from the console's SQLite file)."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT output FROM draft WHERE round_id = ? AND mode = 'typed'", (round_id,)).fetchall()
    return [output for (output,) in rows]


def test_typed_draft_survives_ten_seconds_offline_and_a_reload(page: Page, server: Console):
    open_path(page, "/")
    mark_document(page)
    task_id = server.start_run("Clock", {"1": "Europe/Oslo"})
    card = round_card(page, "Clock", task_id, 1)
    expect(card).to_be_visible()
    round_ = server.pending_round(task_id, 1)
    [call_id] = server.call_ids(task_id, 1).values()
    _result(card, call_id).fill("half past seven, Oslo")
    _wait(lambda: _typed_output(server.log_path.parent / "e2e.db", round_["id"]), "the typed draft being saved")

    page.context.set_offline(True)
    page.wait_for_timeout(OFFLINE_SECONDS * 1000)  # the period is the point: longer than NiceGUI's default 3 s
    page.context.set_offline(False)
    page.wait_for_function("window.socket && window.socket.connected === true")
    expect(_result(card, call_id)).to_have_value("half past seven, Oslo")
    assert_same_document(page)

    page.reload()
    page.wait_for_function("window.did_handshake === true")
    expect(_result(round_card(page, "Clock", task_id, 1), call_id)).to_have_value("half past seven, Oslo")


def _add_user(server: Console, name: str, password: str) -> None:
    """``python -m app user add`` on the session console's database."""
    workdir = server.log_path.parent
    env = console_env(dict(os.environ)) | {"TOOLDESK_DATABASE_URL": f"sqlite:///{workdir}/e2e.db"}
    done = subprocess.run(
        [sys.executable, "-m", "app", "user", "add", name, "--role", "answerer"],
        cwd=workdir,
        env=env,
        input=password + "\n",
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_two_people_on_one_round_see_presence_take_over_and_who_answered(
    new_page: Callable[..., Page], server: Console
):
    _add_user(server, SECOND_USER, SECOND_PASSWORD)
    first = new_page()  # signed in as e2e
    second = new_page(signed_in_as_e2e=False)
    sign_in(second, SECOND_USER, SECOND_PASSWORD)
    for tab in (first, second):
        open_path(tab, "/")
    task_id = server.start_run("Clock", {"1": "UTC"})
    mine, theirs = round_card(first, "Clock", task_id, 1), round_card(second, "Clock", task_id, 1)
    expect(mine).to_be_visible()
    expect(theirs).to_be_visible()
    [call_id] = server.call_ids(task_id, 1).values()

    _result(mine, call_id).fill("first person's answer")
    expect(theirs).to_contain_text(re.compile(r"e2e is answering · \d+ s ago"))
    theirs.get_by_role("button", name="Take over").click()
    expect(mine).to_contain_text(re.compile(rf"{SECOND_USER} took over · \d+ s ago"))

    answer(theirs, call_id, "second person's answer")
    submit(theirs)
    expect(theirs).to_have_count(0)
    expect(mine).to_contain_text(re.compile(rf"answered by person: {SECOND_USER} at \d\d:\d\d:\d\d"))
    expect(_submit_button(mine)).to_be_disabled()
    expect(_result(mine, call_id)).to_have_value("first person's answer")
    mine.get_by_role("button", name="Dismiss").click()
    expect(mine).to_have_count(0)


@dataclass
class OwnConsole:
    """A console with sign-in off on a standalone simulator (which outlives the console's restarts)."""

    url: str
    database: Path
    launch: Callable[[], subprocess.Popen[bytes]]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = self.launch()
        _wait(lambda: httpx.get(f"{self.url}/api/runs").status_code == 200, "the console starting")

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def own_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnConsole]:
    """A standalone simulator and a console with sign-in off on it, with a known secret (so a test can deliver its
    own statuses); ``stop()`` and ``start()`` restart the console on the same database and port. Shared by this
    module's tests (starting both takes a while)."""
    tmp_path = tmp_path_factory.mktemp("own-console")
    sim_port, console_port = free_port(), free_port()
    sim, url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{console_port}"
    env = console_env(dict(os.environ))
    started: list[subprocess.Popen[bytes]] = []

    def launch(args: list[str], log: str, extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with (tmp_path / log).open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "app", *args], cwd=tmp_path, env=env | (extra or {}), stdout=out, stderr=out
            )
        started.append(process)
        return process

    launch(
        [
            "simulate",
            "--port",
            str(sim_port),
            "--webhook-url",
            f"{url}/webhooks/sudoiq",
            "--secret",
            SECRET,
            "--api-key",
            KEY,
        ],
        "simulator.log",
    )
    settings = {
        "TOOLDESK_PORT": str(console_port),
        "TOOLDESK_HOST": "127.0.0.1",
        "TOOLDESK_AUTH": "off",
        "TOOLDESK_PLATFORM_URL": sim,
        "TOOLDESK_PLATFORM_API_KEY": KEY,
        "TOOLDESK_WEBHOOK_SECRET": SECRET,
        "TOOLDESK_DATABASE_URL": f"sqlite:///{tmp_path}/console.db",
    }
    _wait(lambda: httpx.get(f"{sim}/v1/agents", headers=SIM_AUTH).status_code == 200, "the simulator starting")
    console = OwnConsole(url=url, database=tmp_path / "console.db", launch=lambda: launch([], "console.log", settings))
    console.start()
    try:
        yield console
    finally:
        for process in started:
            if process.poll() is None:
                stop_process(process, within=5)


@pytest.fixture
def plain_page(browser: Browser, own_console: OwnConsole) -> Iterator[Page]:
    """A tab on ``own_console`` (no sign-in: it is off)."""
    context = browser.new_context(base_url=own_console.url)
    context.set_default_timeout(UI_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def _card(page: Page, task_id: int) -> Locator:
    return page.locator(".q-card").filter(has=page.get_by_text(re.compile(rf"run {task_id} · round 1$")))


def test_typed_draft_survives_a_console_restart(plain_page: Page, own_console: OwnConsole):
    page = plain_page
    open_path(page, "/")
    started = httpx.post(f"{own_console.url}/api/agents/{CLOCK}/runs", json={"string_inputs": {}})
    assert started.status_code == 202, started.text
    task_id = int(started.json()["task_id"])
    card = _card(page, task_id)
    expect(card).to_be_visible()
    [round_] = [r for r in httpx.get(f"{own_console.url}/api/rounds").json() if r["task_id"] == task_id]
    call_id = round_["tool_calls"][0]["tool_call_id"]
    _result(card, call_id).fill("typed before the restart")
    _wait(lambda: _typed_output(own_console.database, round_["id"]), "the typed draft being saved")

    page.goto("about:blank")  # else the tab reloads itself on reconnecting to the new console, racing our goto
    own_console.stop()
    own_console.start()
    open_path(page, "/")
    expect(_result(_card(page, task_id), call_id)).to_have_value("typed before the restart")


def test_card_counts_down_and_turns_submit_off_at_expiry(plain_page: Page, own_console: OwnConsole):
    """Case C14: a round whose ``expires_at`` is 5 s ahead, and no later delivery."""
    url, page = own_console.url, plain_page
    open_path(page, "/")
    expires = (datetime.now(UTC) + timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    status = {
        "agent_id": CLOCK,
        "task_id": 990_014,
        "status": "awaiting_tool_calls",
        "sequence": 2,
        "round": 1,
        "tool_calls": [{"id": "call_exp", "name": "get_current_time", "arguments": {"timezone": "UTC"}}],
        "expires_at": expires,
    }
    body = json.dumps(status).encode()
    delivered = httpx.post(f"{url}/webhooks/sudoiq", content=body, headers=sign(body, msg_id="msg_c14"))
    assert delivered.status_code == 200, delivered.text
    card = _card(page, 990_014)
    expect(card).to_contain_text(re.compile(r"expires in \d+ s"))
    expect(_submit_button(card)).to_be_enabled()
    _result(card, "call_exp").fill("an answer that would only come back 410")
    expect(card).to_contain_text("expired at", timeout=15_000)
    expect(_submit_button(card)).to_be_disabled()
    expect(_result(card, "call_exp")).to_have_value("an answer that would only come back 410")
