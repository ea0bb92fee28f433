"""Real-browser fixtures: the console as a subprocess on a free port, and Debian's Chromium driven by Playwright.

Run these tests on their own (``make e2e``): sync Playwright and pytest-asyncio
in one process break each other, so the main test run skips ``tests/e2e``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, StorageState, expect, sync_playwright

from tests.builders import free_port, stop_process
from tests.e2e.support import AUTH, E2E_PASSWORD, E2E_USER, Console, console_env, first_start_link, sign_in

START_TIMEOUT = 120.0  # a wait limit: a start takes seconds, but took up to 90 s on a loaded two-core machine
STOP_TIMEOUT = 5.0
UI_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 30_000  # a page load, the first on a console just started: seconds on a loaded machine
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]

expect.set_options(timeout=UI_TIMEOUT_MS)


def _wait_until_up(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the console exited with status {process.returncode} before answering; log:\n{log_path.read_text()}"
            )
        try:
            response = httpx.get(f"{url}/sim/v1/agents", headers=AUTH, timeout=2)
        except httpx.TransportError as exc:
            last = repr(exc)
        else:
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        time.sleep(0.1)
    raise RuntimeError(
        f"the console did not answer within {START_TIMEOUT:.0f} s ({last}); log:\n{log_path.read_text()}"
    )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """``python -m app --port <free port>`` in a temporary directory with its own SQLite file.

    Inherited ``TOOLDESK_*`` variables are dropped so that a developer's shell
    (a real platform URL, a public URL, a secret) cannot point the run elsewhere.
    """
    workdir = tmp_path_factory.mktemp("console")
    log_path = workdir / "console.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = console_env(dict(os.environ)) | {
        "TOOLDESK_DATABASE_URL": f"sqlite:///{workdir}/e2e.db",
        "TOOLDESK_STEP_DELAY": "0.05",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(process, url, log_path)
        link = first_start_link(log_path.read_text())
        token = _cli(workdir, env, "token", "create", "--name", "e2e", "--role", "admin").splitlines()[-1]
        _cli(workdir, env, "user", "add", E2E_USER, "--role", "admin", stdin=E2E_PASSWORD + "\n")
        with httpx.Client(base_url=url, timeout=10, headers={"authorization": f"Bearer {token}"}) as http:
            yield Console(url=url, log_path=log_path, http=http, signin_link=link)
    finally:
        stop_process(process, within=STOP_TIMEOUT)


def _cli(workdir: Path, env: dict[str, str], *args: str, stdin: str = "") -> str:
    """``python -m app ARGS`` on the console's database; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=workdir, env=env, input=stdin, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="session")
def signed_in(browser: Browser, server: Console) -> StorageState:
    """The cookies of a browser signed in as the admin ``e2e`` through the sign-in page, for every page a test
    makes (they share that one session)."""
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    sign_in(page, E2E_USER, E2E_PASSWORD)
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the item, so a fixture can tell at teardown that its test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def new_page(
    browser: Browser, server: Console, signed_in: StorageState, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., Page]]:
    """Makes pages, each in a fresh browser context (a separate tab), signed in as ``e2e`` unless
    ``signed_in=False``.

    When the test fails, a full-page screenshot of each page and the console's
    log are saved in the test's ``tmp_path``.
    """
    contexts: list[BrowserContext] = []
    pages: list[Page] = []
    refused: list[str] = []

    def make(*, signed_in_as_e2e: bool = True) -> Page:
        context = browser.new_context(
            base_url=server.url,
            viewport={"width": 1280, "height": 900},
            storage_state=signed_in if signed_in_as_e2e else None,
        )
        context.set_default_timeout(UI_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: _note_refusal(message.text, refused))
        pages.append(page)
        return page

    yield make
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for number, page in enumerate(pages, start=1):
            try:
                page.screenshot(path=str(tmp_path / f"failure-{number}.png"), full_page=True)
            except Exception as exc:  # a screenshot problem must not hide the test's own failure
                print(f"screenshot {number} failed: {exc!r}")
        (tmp_path / "console.log").write_text(server.log_tail(200_000))
        print(f"e2e failure: screenshots and console log in {tmp_path}")
    for context in contexts:
        context.close()
    assert refused == [], "the Content Security Policy refused something the page needed"


def _note_refusal(text: str, refused: list[str]) -> None:
    """Every test's pages double as a check that the console's Content Security Policy lets NiceGUI work."""
    if "Content Security Policy" in text:
        refused.append(text[:300])


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()


@pytest.fixture(autouse=True)
def settings_env() -> None:
    """Overrides the autouse fixture of ``tests/conftest.py``: the console subprocess has its own settings."""
