"""One console per SQLite file: an OS lock on ``<database>.lock`` taken before the console opens anything.

A second console on the same file would reconcile the first one's open runs, answer their rounds a second time and
fight over the outbox (issue 8, "A second console on the same database file breaks the first"). The lock is
``fcntl.flock`` on a sidecar file, so the operating system drops it when the process ends in any way, ``kill -9``
included: no stale lock to clean up by hand. While it holds the lock, the console keeps its pid, address and start
time in the file, so a refused second console can say which one runs. Command-line tools (``user``, ``token``,
``export``, ``import``, ``settings``) are not consoles and take no lock. On PostgreSQL there is no file and no lock
(``app.main.serve`` skips it): several consoles may share one database (issue 9).
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

from app.errors import SettingsError

__all__ = ["ConsoleLock", "claim_database", "lock_path"]


class ConsoleLock:
    """The held lock on ``path`` (the sidecar file); ``release()`` gives it up (the process's end does too)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        """Give the lock up and close the file; calling it again does nothing. The file stays (empty)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the only descriptor releases the flock


def lock_path(database_path: str) -> Path | None:
    """``<database>.lock`` next to the SQLite file, symlinks followed (a link to a held file names the same lock);
    ``None`` for an in-memory database (nothing to share)."""
    if database_path in {"", ":memory:"} or database_path.startswith("file::memory:"):
        return None
    real = Path(database_path).resolve()
    return real.with_name(real.name + ".lock")


def claim_database(
    database_path: str, *, what: str, host: str, port: int, setting: str = "TOOLDESK_DATABASE_URL"
) -> ConsoleLock | None:
    """Take the lock for ``database_path`` and write this process's kind (``what``: "console", "simulator"), pid,
    ``host`` and ``port`` into it.

    Returns the held lock (``None`` for an in-memory database). Raises ``SettingsError`` with one line naming the
    holder (its kind, pid and port) and ``setting`` (where to choose another file) when another process holds it,
    or when the lock file cannot be opened.
    """
    path = lock_path(database_path)
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # no O_TRUNC: the holder's details must stay readable; O_NOFOLLOW: a symlink planted at <db>.lock would
        # otherwise have this process truncate and overwrite whatever file it points at
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise SettingsError(
            f"bad setting: {setting}: cannot open the lock file {path} ({exc.strerror or exc}): "
            "choose a writable file path"
        ) from None
    unsafe = _unsafe(fd)
    if unsafe:
        os.close(fd)
        raise SettingsError(
            f"bad setting: {setting}: the lock file {path} {unsafe}: remove it, or choose another file path"
        )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = _holder(fd)
        os.close(fd)
        raise SettingsError(
            f"{database_path} is in use by {holder}: one {what} per database file; stop that one first, "
            f"or choose another file with {setting}"
        ) from None
    details = {
        "what": what,
        "pid": os.getpid(),
        "host": host,
        "port": port,
        "started_at": datetime.now(UTC).isoformat(),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(details).encode(), 0)
    return ConsoleLock(path, fd)


def _unsafe(fd: int) -> str:
    """Why the opened lock file may not be written (empty when it may): it must be a regular file of this process's
    user; it is then made readable by that user only (0600, as the database), since it names pid, host and port."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if info.st_uid != os.geteuid():
        return f"belongs to another user (uid {info.st_uid})"
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.fchmod(fd, 0o600)
    return ""


def _holder(fd: int) -> str:
    """'a running console (pid 1234, port 8080)' from the holder's file, or a holder still starting up."""
    try:
        details = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"a running {details.get('what', 'console')} (pid {int(details['pid'])}, port {int(details['port'])})"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return "another process that is starting up (its pid and port are not written yet)"
