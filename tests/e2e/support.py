"""What the browser tests share: the running console's API, and locators for what a person sees.

Elements are found the way a person finds them (roles, labels, visible text)
inside the card they belong to. NiceGUI's ``.mark()`` markers exist only on the
server (``ElementFilter`` and the simulated ``user``); nicegui 3.18 does not
render them into the DOM, so ``[marker="..."]`` matches nothing in a browser.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

REPO = Path(__file__).resolve().parents[2]
API_KEY = "sim-local-key"
AUTH = {"authorization": f"Bearer {API_KEY}"}


E2E_USER = "e2e"
E2E_PASSWORD = "e2e-password-long-enough"


@dataclass
class Console:
    """The running console: its address, its log, the JSON API a test reads ids from (with an admin's token), and
    the sign-in link it printed at its first start (single-use)."""

    url: str
    log_path: Path
    http: httpx.Client
    signin_link: str = ""

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def agent_id(self, name: str) -> str:
        """The agent's id as the platform (the embedded simulator) lists it."""
        response = self.http.get("/sim/v1/agents", headers=AUTH)
        response.raise_for_status()
        ids = {agent["name"]: agent["agent_id"] for agent in response.json()}
        assert name in ids, f"the platform lists no agent {name!r}: {sorted(ids)}"
        return str(ids[name])

    def pending_round(self, task_id: int, number: int) -> dict[str, Any]:
        """Round ``number`` of ``task_id`` from ``GET /api/rounds`` (ask once the inbox shows it)."""
        response = self.http.get("/api/rounds")
        response.raise_for_status()
        found = [item for item in response.json() if item["task_id"] == task_id and item["round"] == number]
        assert len(found) == 1, f"round {number} of task {task_id} is not pending once: {response.json()}"
        return dict(found[0])

    def call_ids(self, task_id: int, number: int) -> dict[str, str]:
        """``{tool name: tool_call_id}`` of a pending round."""
        return {call["name"]: call["tool_call_id"] for call in self.pending_round(task_id, number)["tool_calls"]}

    def start_run(self, agent_name: str, inputs: dict[str, str]) -> int:
        """Start a run through ``POST /api/agents/{agent_id}/runs``; returns its ``task_id``."""
        response = self.http.post(f"/api/agents/{self.agent_id(agent_name)}/runs", json={"string_inputs": inputs})
        assert response.status_code == 202, response.text
        return int(response.json()["task_id"])


def first_start_link(log: str) -> str:
    """The sign-in link a first start prints."""
    found = re.search(r"https?://\S+/signin/ticket\?ticket=\S+", log)
    assert found is not None, f"no sign-in link in the console's output:\n{log[-3000:]}"
    return found.group(0)


def sign_in(page: Page, name: str, password: str) -> None:
    """Open the sign-in page, fill in name and password, and wait for the Inbox."""
    open_path(page, "/signin")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def open_path(page: Page, path: str) -> None:
    """Load ``path`` and wait for NiceGUI's websocket handshake (before any click or typing)."""
    page.goto(path)
    page.wait_for_function("window.did_handshake === true")


def go_to(page: Page, section: str) -> None:
    """Click a header button (``Inbox``, ``Runs``, ``Agents``): client-side navigation, no reload."""
    page.locator("header").get_by_role("button", name=section).click()


def mark_document(page: Page) -> None:
    """Tag the loaded document; ``assert_same_document`` then proves no reload happened since."""
    page.evaluate("window.__e2e_document = true")


def assert_same_document(page: Page) -> None:
    assert page.evaluate("window.__e2e_document === true"), "the page was reloaded"


def agent_card(page: Page, name: str) -> Locator:
    return page.locator(".q-card").filter(has=page.get_by_text(name, exact=True))


def start_from_agents_page(page: Page, name: str, inputs: dict[str, str] | None = None) -> int:
    """On the Agents page: fill inputs by their labels, click Start run; returns the task id from the notification."""
    card = agent_card(page, name)
    for label, value in (inputs or {}).items():
        card.get_by_label(label, exact=True).fill(value)
    card.get_by_role("button", name="Start run").click()
    pattern = re.compile(rf"Run (\d+) of {re.escape(name)} started")
    notice = page.locator(".q-notification").filter(has_text=pattern)
    expect(notice).to_be_visible()
    found = pattern.search(notice.inner_text())
    assert found is not None
    return int(found.group(1))


def console_env(environ: dict[str, str]) -> dict[str, str]:
    """The environment for a ``python -m app`` child: no inherited ``TOOLDESK_*`` or ``PYTEST_*`` variables (a
    developer's shell must not point the run elsewhere), the embedded simulator's key ``API_KEY``, and this
    checkout first on ``PYTHONPATH``, so the console under test is the code beside these tests whatever copy of the
    package is installed."""
    env = {k: v for k, v in environ.items() if not k.startswith(("TOOLDESK_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [environ.get("PYTHONPATH")])])
    env["TOOLDESK_PLATFORM_API_KEY"] = API_KEY  # the tests call /sim themselves (unset, the key is random)
    return env


def round_card(page: Page, agent: str, task_id: int, number: int) -> Locator:
    """The inbox card titled ``<agent> · run <id> · round <n>``."""
    title = f"{agent} · run {task_id} · round {number}"
    return page.locator(".q-card").filter(has=page.get_by_text(title, exact=True))


def call_card(card: Locator, tool_call_id: str) -> Locator:
    """Inside a round card: the nested card of one tool call, told apart by its id badge."""
    return card.locator(".q-card").filter(has=card.page.get_by_text(tool_call_id, exact=True))


def answer(card: Locator, tool_call_id: str, output: str, *, json_mode: bool = False, is_error: bool = False) -> None:
    """Type one call's result, as a person does; optionally switch to JSON mode or flip is_error."""
    call = call_card(card, tool_call_id)
    call.get_by_label("Result").fill(output)
    if json_mode:
        call.get_by_role("button", name="JSON", exact=True).click()
        expect(call.get_by_role("button", name="JSON", exact=True)).to_have_attribute("aria-pressed", "true")
    if is_error:
        switch = call.get_by_role("switch", name="is_error")
        switch.click()
        expect(switch).to_be_checked()


def submit(card: Locator) -> None:
    card.get_by_role("button", name=re.compile(r"^Submit \d+ result")).click()


def run_status(page: Page, task_id: int) -> Locator:
    """On a run page: the status badge next to the ``Run <id>`` title."""
    title_row = page.locator(".nicegui-row").filter(has=page.get_by_text(f"Run {task_id}", exact=True))
    return title_row.get_by_role("status")


def run_result(page: Page) -> Locator:
    """On a run page: the green card titled ``Result`` (shown once the run completed)."""
    return page.locator(".q-card").filter(has=page.get_by_text("Result", exact=True))


def run_error(page: Page) -> Locator:
    """On a run page: the red ``Error: <code>`` card."""
    return page.locator(".q-card").filter(has=page.get_by_text(re.compile(r"^Error: ")))
