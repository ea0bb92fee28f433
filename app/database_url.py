"""``TOOLDESK_DATABASE_URL``: a SQLite file, or a PostgreSQL database through psycopg 3.

- ``sqlite:///path``: one console on one file (``app.console_lock``), the default ``sqlite:///tooldesk.db``;
- ``postgresql+psycopg://user:password@host:5432/name``: several consoles may share it (issue 9, "Several
  consoles on one PostgreSQL database"). ``postgresql://`` and ``postgres://``, as libpq, Heroku and compose files
  write them, are read as the same (SQLAlchemy would otherwise pick psycopg2, which is not installed).
"""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["POSTGRESQL", "checked", "is_postgresql", "shown"]

POSTGRESQL = "postgresql+psycopg://"
"""The one PostgreSQL driver the console speaks: psycopg 3."""
ALIASES = ("postgresql://", "postgres://")
EXAMPLE = "postgresql+psycopg://user:password@host:5432/tooldesk"


def checked(value: str) -> str:
    """``value`` as the engine takes it (a PostgreSQL alias rewritten to ``POSTGRESQL``). Raises ``ValueError``
    saying what is expected for anything but a SQLite file URL or a PostgreSQL URL naming a database, and never
    quoting ``value`` (it may hold a password)."""
    value = value.strip()
    for alias in ALIASES:
        if value.startswith(alias):
            value = POSTGRESQL + value.removeprefix(alias)
    if value.startswith(POSTGRESQL):
        try:
            database = make_url(value).database
        except ValueError:  # a port that is not a number, or an '@', ':' or '/' in a password read as one
            raise ValueError(
                f"expected a PostgreSQL URL such as {EXAMPLE}, with a number for the port; "
                "percent-encode the user name and password (@ as %40, : as %3A, / as %2F, # as %23, ? as %3F)"
            ) from None
        except ArgumentError:
            database = None
        if not database:
            raise ValueError(f"expected a PostgreSQL URL with a database name, such as {EXAMPLE}")
        return value
    if not value.startswith("sqlite:///") or value.removeprefix("sqlite:///") in {"", ":memory:"}:
        raise ValueError(f"expected a SQLite file URL such as sqlite:///tooldesk.db, or {EXAMPLE}")
    return value


def is_postgresql(url: str) -> bool:
    return url.startswith(POSTGRESQL)


def shown(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***`` (for messages and logs)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(a database URL that cannot be read)" if "@" in url else url
