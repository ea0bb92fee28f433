"""``tooldesk desktop`` (or ``python -m app --native``): the console in a window of its own, signed in.

- The window is NiceGUI's native mode: pywebview shows the console's pages in the system's web view (WebKitGTK
  through PyGObject on Linux, WebView2 on Windows, WKWebView on macOS), from a process of its own; closing the
  window stops the console.
- The console listens on 127.0.0.1 only, on ``--port``, else ``TOOLDESK_PORT``, else a free port.
- The database is ``tooldesk.db`` in the user's data folder (``platformdirs.user_data_dir("tooldesk")``:
  ``~/.local/share/tooldesk`` on Linux) unless ``TOOLDESK_DATABASE_URL`` is set.
- Sign-in stays on (anyone else on the machine who reaches the port still needs a session), and the local user is
  signed in by itself: the process makes a single-use sign-in ticket for the first admin (a new database gets
  ``admin``, as at any first start) and opens the window on ``/signin/ticket?ticket=...``, which sets the session
  cookie and goes on to the Inbox. The ticket travels to the window's process in memory, not on a command line.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import SettingsError

if TYPE_CHECKING:
    from app.runtime import Runtime

APP_NAME = "tooldesk"
WINDOW_SIZE = (1280, 800)
TICKET_TTL = 300.0
"""Seconds the window's sign-in ticket is valid: the window opens it as soon as the port answers."""


def database_url() -> str:
    """``TOOLDESK_DATABASE_URL`` when set, else the SQLite file ``tooldesk.db`` in the user's data folder (made
    if missing)."""
    configured = os.environ.get("TOOLDESK_DATABASE_URL")
    if configured:
        return configured
    from platformdirs import user_data_dir

    folder = Path(user_data_dir(APP_NAME, appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'tooldesk.db'}"


def open_window(*, port: int | None) -> int:
    """Serve the console on 127.0.0.1 and show it in a window until the window is closed; the exit status.

    Prints one line and returns 2 when pywebview is missing or no display server answers; raises ``SettingsError`` for a
    bad setting (the port taken, another console on the same database).
    """
    problem = _missing_window_support()
    if problem:
        print(f"tooldesk desktop: {problem}", file=sys.stderr)
        return 2
    os.environ["TOOLDESK_HOST"] = "127.0.0.1"
    if port is not None:
        os.environ["TOOLDESK_PORT"] = str(port)
    elif not os.environ.get("TOOLDESK_PORT"):
        os.environ["TOOLDESK_PORT"] = str(_free_port())
    os.environ["TOOLDESK_DATABASE_URL"] = database_url()
    from app.config import get_settings
    from app.main import serve

    settings = get_settings()
    print(f"Tooldesk: the console's window; database {settings.database_url}", flush=True)
    serve(settings, window=True)
    return 0


def sign_in_window(runtime: Runtime) -> None:
    """Point the window at a single-use sign-in ticket of the local admin (or at ``/`` with sign-in off), and
    print each page the window loads. Raises ``SettingsError`` when the database has users but no admin."""
    from nicegui import Client
    from nicegui import app as nicegui_app

    from app.services import sign_in, users

    url = f"http://127.0.0.1:{runtime.settings.port}"
    if runtime.settings.auth:
        engine = runtime.engine
        name = users.first_admin_without_password(engine=engine) or users.first_admin(engine=engine)
        if name is None:
            raise SettingsError(
                "no admin on this database to sign the window in: add one with `tooldesk user add NAME --role admin`"
            )
        ticket = sign_in.issue_ticket(
            engine=engine, user_id=users.user_id(engine=engine, name=name), ttl=TICKET_TTL, then="/"
        )
        url += f"/signin/ticket?ticket={ticket}"
        print(f"Tooldesk: signing the window in as {name!r}", flush=True)
    else:
        url += "/"
    nicegui_app.native.window_args["url"] = url

    def shown(client: Client) -> None:
        query = client.request.url.query
        print(f"Tooldesk: the window shows {client.request.url.path}{'?' if query else ''}{query}", flush=True)

    nicegui_app.on_connect(shown)


def _missing_window_support() -> str:
    """Why no window can open here, or ``""``."""
    if importlib.util.find_spec("webview") is None:
        return "the window needs pywebview: pip install 'tooldesk[desktop]' (README, Desktop window)"
    if not sys.platform.startswith("linux"):
        return ""
    x11, wayland = os.environ.get("DISPLAY", ""), os.environ.get("WAYLAND_DISPLAY", "")
    if not (x11 or wayland):
        return "no display (DISPLAY is not set): run it in a desktop session, or use `tooldesk serve` and a browser"
    if (x11 and _x11_answers(x11)) or (wayland and _wayland_answers(wayland)):
        return ""
    shown = " or ".join(f"{name}={value}" for name, value in (("DISPLAY", x11), ("WAYLAND_DISPLAY", wayland)) if value)
    return f"no display server answers at {shown}: start one, or use `tooldesk serve` and a browser"


def _x11_answers(display: str) -> bool:
    """Whether an X server accepts a connection at ``display`` (``[host]:N[.screen]``): its Unix socket
    ``/tmp/.X11-unix/XN`` (the file, or Linux's abstract name) for a local one, TCP port 6000 + N for a host. A
    display nobody answers would otherwise let the console start, the window fail, and the command exit 0."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".", 1)[0]
    if not number.isdigit():
        return False
    if host in {"", "unix"}:
        path = f"/tmp/.X11-unix/X{number}"
        return _unix_answers(path) or _unix_answers("\0" + path)
    try:
        with socket.create_connection((host, 6000 + int(number)), timeout=1.0):
            return True
    except OSError:
        return False


def _wayland_answers(name: str) -> bool:
    """Whether a Wayland compositor listens at ``name`` (a path, or a name in ``XDG_RUNTIME_DIR``)."""
    path = name if name.startswith("/") else os.path.join(os.environ.get("XDG_RUNTIME_DIR", ""), name)
    return _unix_answers(path)


def _unix_answers(address: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(address)
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
