"""Builders for test data: run statuses, signed deliveries, the demo agents, the console's API, waiting on conditions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy
from sqlalchemy import Connection, Engine
from standardwebhooks.webhooks import Webhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
AGENT_ID = "5f0c6b2e-8a4d-4c1e-9a57-2b3f3c4d5e6f"

# the demo agents of fixtures/scenarios/*.json, played by the embedded simulator
CLOCK = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b01"
TRIP = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b02"
FLAKY = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b03"
WEATHER_COMPARE = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b04"

DEEP_JSON = "[" * 1000 + "]" * 1000  # valid JSON nested deeper than Python's recursion limit


def make_status(
    task_id: int = 1042,
    *,
    status: str = "awaiting_tool_calls",
    sequence: int = 3,
    round: int | None = 1,
    tool_calls: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A run status body (contract, AgentGraphRunStatusResponse)."""
    body: dict[str, Any] = {
        "agent_id": AGENT_ID,
        "task_id": task_id,
        "status": status,
        "sequence": sequence,
        "round": round if status == "awaiting_tool_calls" else None,
        "result": None,
        "error": None,
        "environment": "playground",
    }
    if status == "awaiting_tool_calls":
        body["tool_calls"] = (
            tool_calls
            if tool_calls is not None
            else [{"id": "call_1", "name": "get_current_time", "arguments": {"timezone": "UTC"}}]
        )
    body.update(extra)
    return body


def sign(body: bytes, *, msg_id: str, timestamp: float | None = None, secret: str = SECRET) -> dict[str, str]:
    """Standard Webhooks headers for ``body`` (signed over its exact bytes)."""
    when = time.time() if timestamp is None else timestamp
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(when, tz=UTC), body.decode("utf-8", "replace"))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when)),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


class Console(httpx.AsyncClient):
    """An HTTP client on the console with the steps tests take again and again. Each step checks the answer's
    status, so a test reads as what it does and fails at the step that went wrong."""

    async def post_webhook(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST ``body`` to the webhook as it is, with ``headers`` (signed or not)."""
        return await self.post("/webhooks/sudoiq", content=body, headers=headers)

    async def deliver(self, body: dict[str, Any], msg_id: str) -> None:
        """Deliver a run status signed with the console's secret; the webhook must take it (200)."""
        raw = encode(body)
        response = await self.post_webhook(raw, sign(raw, msg_id=msg_id))
        assert response.status_code == 200, response.text

    async def start(self, agent_id: str, inputs: dict[str, str] | None = None) -> int:
        """Start a run of ``agent_id`` on the platform; its task_id."""
        response = await self.post(f"/api/agents/{agent_id}/runs", json={"string_inputs": inputs or {}})
        assert response.status_code == 202, response.text
        return int(response.json()["task_id"])

    async def save_handler(self, **handler: Any) -> dict[str, Any]:
        """Save a handler (``agent_id``, ``tool_name``, ``kind``, ``spec``, ``mode`` …); the saved version."""
        response = await self.post("/api/handlers", json=handler)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def handlers(self) -> dict[str, dict[str, Any]]:
        """The saved handlers by tool name."""
        return {h["tool_name"]: h for h in (await self.get("/api/handlers")).json()}

    async def pending(self, task_id: int | None = None) -> list[dict[str, Any]]:
        """The pending rounds, of one run when ``task_id`` is given."""
        rounds = (await self.get("/api/rounds", params={"state": "pending"})).json()
        return [r for r in rounds if task_id is None or r["task_id"] == task_id]

    async def pending_round(self, task_id: int, number: int = 1, *, drafted: bool = False) -> dict[str, Any]:
        """Wait for round ``number`` of the run to be pending (with the handlers' drafts, if ``drafted``)."""

        async def found() -> list[dict[str, Any]]:
            return [r for r in await self.pending(task_id) if r["round"] == number and (r["drafts"] or not drafted)]

        return dict((await wait_for(found))[0])

    async def answer(self, round_: dict[str, Any], outputs: dict[str, str], **extra: Any) -> httpx.Response:
        """Submit a pending round, one output per tool name; the platform must take it (200)."""
        results = [{"tool_call_id": c["tool_call_id"], "output": outputs[c["name"]]} for c in round_["tool_calls"]]
        response = await self.post(f"/api/rounds/{round_['id']}/responses", json={"results": results, **extra})
        assert response.status_code == 200, response.text
        return response

    async def run(self, task_id: int) -> dict[str, Any]:
        """A run as ``GET /api/runs/{task_id}`` shows it."""
        response = await self.get(f"/api/runs/{task_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def wait_for_status(
        self, task_id: int, status: str, *, within: float = 10.0, acknowledged: bool = False
    ) -> dict[str, Any]:
        """Wait for the run to reach ``status``; the run then. With ``acknowledged``, also for no round of it to be
        ``submitting``: the platform may move the run on before the console has stored its answer to a
        submission, which sets the round's state, message and who answered."""

        async def reached() -> dict[str, Any]:
            run = (await self.get(f"/api/runs/{task_id}")).json()
            if acknowledged and any(item.get("state") == "submitting" for item in run.get("rounds") or []):
                return {}
            return run if run.get("status") == status else {}

        return dict(await wait_for(reached, within=within))


def make_token(*, role: Any, name: str = "tests") -> str:
    """A new API token with ``role`` on the running console's database."""
    from app.runtime import get_runtime
    from app.services import tokens

    _, token = tokens.create_token(engine=get_runtime().engine, name=name, role=role, created_by="tests")
    return token


def make_session(*, role: Any, name: str | None = None) -> str:
    """A user with ``role`` (named after it unless ``name``) and a new session for them: the cookie value."""
    from app.runtime import get_runtime
    from app.services import sign_in, users

    engine = get_runtime().engine
    name = name or f"{role}-user"
    if name not in {u.name for u in users.list_users(engine=engine)}:
        users.add_user(engine=engine, name=name, role=role)
    return sign_in.open_session(engine=engine, user_id=users.user_id(engine=engine, name=name))


def sign_in_user(user: Any, *, role: Any, name: str | None = None) -> str:
    """Sign NiceGUI's simulated ``user`` in as a user with ``role``: its HTTP client sends the session cookie."""
    from app.auth.identity import SESSION_COOKIE

    cookie = make_session(role=role, name=name)
    user.http_client.cookies.set(SESSION_COOKIE, cookie)
    return cookie


async def wait_for(condition: Callable[[], Awaitable[Any] | Any], *, within: float = 15.0) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``within`` seconds (a limit for a busy
    machine, two test processes on two cores: a passing test returns at the first poll that holds)."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.02)


def take_errors(caplog: Any) -> list[str]:
    """The ERROR log messages a test caused so far (first line of each), cleared, so a page that fails fails the
    test itself and not the ``user`` fixture's teardown (which would also break the next test's start)."""
    import logging

    found = [record.getMessage().splitlines()[0][:200] for record in caplog.records if record.levelno >= logging.ERROR]
    caplog.clear()
    return found


async def open_handler_editor(user: Any, tool: str = "tool-Clock-get_current_time") -> None:
    """Open the Handlers page and a tool's editor (agents are synced at start; the list refreshes when they
    arrive)."""
    from app.runtime import get_runtime
    from app.services import agents

    engine = get_runtime().engine
    await wait_for(lambda: agents.list_agents(engine=engine), within=30.0)  # the start-up sync, slow on a busy machine
    await user.open("/handlers")
    await user.should_see(marker=tool, retries=100)
    user.find(marker=tool).click()
    await user.should_see(marker="save-handler")


def set_value(user: Any, marker: str, value: Any) -> None:
    """Set the value of the one input marked ``marker`` on a simulated user's page, as typing or choosing would."""
    element = user.find(marker=marker).elements.pop()
    element.set_value(value)


async def settled(event: Callable[[], Any], *, within: float = 5.0) -> None:
    """Fire a simulated user's ``event`` and wait until the page handlers it started have finished (NiceGUI runs
    an async handler as a background task, so the event returns before the handler has done anything)."""
    from nicegui import background_tasks

    before = set(background_tasks.running_tasks)
    event()
    started = background_tasks.running_tasks - before
    if started:
        _, running = await asyncio.wait(started, timeout=within)
        assert not running, f"handlers still running after {within} s"


@dataclass(frozen=True)
class Statement:
    """One SQL statement a test saw: its text and the name of the thread that ran it."""

    sql: str
    thread: str


BACKGROUND_THREADS = ("tooldesk-handlers", "tooldesk-checkpoint")
"""Threads whose statements a page's count leaves out: the handlers' pool (handlers' look at new rounds, the
search index's catch-up, ``app.services.run_index``) and the WAL checkpointer (``app.webhooks.checkpoint``). How
many of their statements fall inside a counted block depends on timing, not on the page."""


def foreground(seen: list[Statement]) -> list[str]:
    """The SQL of the statements in ``seen`` that no ``BACKGROUND_THREADS`` thread ran."""
    return [s.sql for s in seen if not s.thread.startswith(BACKGROUND_THREADS)]


_SINKS: tuple[tuple[Engine, list[Statement]], ...] = ()


def _record(conn: Connection, _cursor: object, statement: str, *_args: object) -> None:
    for engine, sink in _SINKS:
        if conn.engine is engine:
            sink.append(Statement(statement, threading.current_thread().name))


def listen_for_statements() -> None:
    """Listen to every engine's statements once, on SQLAlchemy's ``Engine`` class, before any engine exists
    (``tests/conftest.py``). Adding and removing a listener on a running console's engine changes the list of
    listeners that its threads iterate meanwhile: "deque mutated during iteration" in one of them."""
    sqlalchemy.event.listen(Engine, "before_cursor_execute", _record)


@contextlib.contextmanager
def statements(engine: Engine) -> Iterator[list[Statement]]:
    """The statements run on ``engine``, by any thread, while the block runs."""
    global _SINKS
    sink: list[Statement] = []
    _SINKS = (*_SINKS, (engine, sink))
    try:
        yield sink
    finally:
        _SINKS = tuple(entry for entry in _SINKS if entry[1] is not sink)


START_TASKS = {"sync agents, reconcile runs", "handlers"}
"""Names of the console's start-up tasks (``app.main``): syncing agents, reconciling runs, and the handlers' sweep
they start."""


async def start_done() -> None:
    """Wait for the console's start-up tasks (``START_TASKS``) to end: their database work (a sweep reads every
    pending round) is not what a test that counts statements or takes the database away measures."""
    from nicegui import background_tasks

    deadline = time.monotonic() + 60
    while starting := [t for t in background_tasks.running_tasks if t.get_name() in START_TASKS]:
        assert time.monotonic() < deadline, f"start-up tasks still running after 60 s: {starting}"
        await asyncio.wait(starting, timeout=max(0.1, deadline - time.monotonic()))


def tooldesk_command() -> list[str]:
    """The ``tooldesk`` command: the script that ``pip install`` made beside this Python (``[project.scripts]``),
    else ``python -m app``, which runs the same ``main``. Run it with this checkout first on ``PYTHONPATH`` so the
    code beside the tests is the one run."""
    script = Path(sys.executable).with_name("tooldesk")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app"]


def press_key(user: Any, key: str, *, ctrl: bool = False, marker: str = "keys") -> None:
    """Press ``key`` (with Ctrl if ``ctrl``) on the page's keyboard listener marked ``marker``, as a browser's
    keydown would reach it."""
    user.find(marker=marker).trigger(
        "key",
        {
            "action": "keydown",
            "repeat": False,
            "altKey": False,
            "ctrlKey": ctrl,
            "metaKey": False,
            "shiftKey": False,
            "key": key,
            "code": key,
            "location": 0,
        },
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at this moment (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[Any], *, within: float) -> None:
    """Stop a console or simulator the test started: SIGTERM, then SIGKILL if it has not ended within ``within`` s."""
    process.terminate()
    try:
        process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def served_console(folder: Path, **settings: str) -> Iterator[str]:
    """A console served by ``python -m app serve`` from this checkout on a free port, with its own SQLite file in
    ``folder`` (its log in ``folder/console.log``) and ``settings`` (``TOOLDESK_*`` variables) on top of an environment
    without the tests' own; its base URL, ``http://127.0.0.1:PORT``, once ``/readyz`` answers 200 (120 s at most).
    Stopped at the block's end."""
    import os

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLDESK_", "PYTEST_"))}
    env |= {
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "TOOLDESK_DATABASE_URL": f"sqlite:///{folder}/tooldesk.db",
        **settings,
    }
    with (folder / "console.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port)], cwd=folder, env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (folder / "console.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the console did not start within 120 s"
            time.sleep(0.2)
        yield url
    finally:
        stop_process(process, within=10)
