"""The desktop window (issue 9, item 5): ``tooldesk desktop`` under Xvfb opens the console in a window of its own,
signed in by itself, on a database in the user's data folder; a screenshot of the display shows the Inbox.

Skipped, with the reason printed, only where no display server can be started (no Xvfb, or it does not start).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.builders import free_port, tooldesk_command
from tests.e2e.processes import wait_until
from tests.e2e.support import console_env

SCREEN = "1280x800x24"


def _skip(config: pytest.Config, reason: str) -> None:
    """Skip, and print why past the output capture: ``pytest -q`` shows no skip reasons."""
    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\ntest_desktop skipped: {reason}", file=sys.stderr, flush=True)
    pytest.skip(reason)


@pytest.fixture
def display(tmp_path: Path, pytestconfig: pytest.Config) -> Iterator[str]:
    """A virtual X display (``:N``) on a free display number, stopped after the test."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        _skip(pytestconfig, "no display server: Xvfb is not installed (Debian package xvfb; `make test` installs it)")
    assert xvfb is not None
    read_end, write_end = os.pipe()
    log = (tmp_path / "xvfb.log").open("wb")
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    os.close(write_end)
    with os.fdopen(read_end) as numbers:
        number = numbers.readline().strip()  # Xvfb writes the display it took once it accepts clients
    if not number:
        server.wait(timeout=10)
        _skip(
            pytestconfig,
            f"no display server: Xvfb exited with status {server.returncode}: {(tmp_path / 'xvfb.log').read_text()}",
        )
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def _screenshot(display: str, path: Path) -> int:
    """Take a screenshot of the whole display into ``path`` (ImageMagick's ``import``); its count of distinct
    colours (1 for a blank screen)."""
    environ = dict(os.environ, DISPLAY=display)
    subprocess.run(["import", "-window", "root", str(path)], env=environ, check=True, timeout=30)
    counted = subprocess.run(
        ["identify", "-format", "%k", str(path)], env=environ, check=True, timeout=30, capture_output=True, text=True
    )
    return int(counted.stdout.strip())


def test_desktop_window_signs_in_and_shows_the_inbox(display: str, tmp_path: Path):
    port = free_port()
    data_home = tmp_path / "data"
    env = console_env(dict(os.environ)) | {"DISPLAY": display, "XDG_DATA_HOME": str(data_home)}
    log_path = tmp_path / "desktop.log"
    with log_path.open("wb") as log:
        window = subprocess.Popen(
            [*tooldesk_command(), "desktop", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # the window's own request for "/" reached the console: a page without a session is sent to /signin instead
        wait_until(
            lambda: window.poll() is not None or "the window shows /\n" in log_path.read_text(),
            "the window loading the Inbox",
            within=90,
        )
        assert window.poll() is None, f"tooldesk desktop exited:\n{log_path.read_text()[-3000:]}"
        text = log_path.read_text()
        assert "signing the window in as 'admin'" in text
        assert "the window shows /signin" not in text  # it was never asked for a password
        assert (data_home / "tooldesk" / "tooldesk.db").exists()  # the user's data folder (platformdirs)
        # sign-in stays on for everyone else: a request without the window's cookie is sent to sign in
        outside = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert outside.status_code == 303 and outside.headers["location"].startswith("/signin")

        shot = tmp_path / "desktop.png"
        colours = wait_until(lambda: (n := _screenshot(display, shot)) > 64 and n, "the Inbox drawn on screen", 60)
        assert colours > 64, f"the screenshot {shot} looks blank ({colours} colours)"
    finally:
        if window.poll() is None:
            os.killpg(window.pid, signal.SIGTERM)
            try:
                window.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(window.pid, signal.SIGKILL)
                window.wait(timeout=10)
