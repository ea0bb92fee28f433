"""``python -m app db upgrade [REVISION]`` / ``db current`` / ``db revision -m MESSAGE``: the migrations by hand.

``upgrade`` applies what the configured database (``TOOLDESK_DATABASE_URL``: a SQLite file or PostgreSQL) lacks, as
every start does;
``current`` prints the revision it is at; ``revision`` writes a new file in ``app/migrations/versions/`` from the
difference between the models and a scratch database at the newest revision (Alembic's autogenerate), to read and
complete by hand. Each prints one line; a database that cannot be opened or migrated exits with status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError


def add_arguments(commands: Any) -> None:
    """Add the ``db`` command to ``commands`` (an ``argparse`` subparsers object)."""
    db = commands.add_parser("db", help="schema migrations (Alembic): upgrade, current, revision")
    actions = db.add_subparsers(dest="db_command", required=True)
    upgrade = actions.add_parser("upgrade", help="apply the migrations the database lacks (start-up does too)")
    upgrade.add_argument("revision", nargs="?", default="head", help="where to stop (default: head)")
    actions.add_parser("current", help="print the revision the database is at")
    revision = actions.add_parser("revision", help="write a new migration from the models' changes")
    revision.add_argument("-m", "--message", required=True, help="what it changes, a few words")


def run(args: argparse.Namespace) -> int:
    """Run ``args.db_command``; returns the exit status."""
    from app import migrations
    from app.config import get_settings
    from app.database_url import shown
    from app.db import make_engine

    if args.db_command == "revision":
        return _revision(args.message)
    url = get_settings().database_url
    if args.db_command == "current" and (missing := missing_database(url)):
        print(f"tooldesk db current: {missing}", file=sys.stderr)
        return 2
    try:
        engine = make_engine(url, migrate=False)
        before = migrations.current(engine)
        if args.db_command == "upgrade":
            had_tables = bool(inspect(engine).get_table_names())
            migrations.upgrade(engine, args.revision)
            after = migrations.current(engine)
            print(f"tooldesk db: {_upgrade_said(before, after, had_tables)}", file=sys.stderr)
        else:
            mark = " (head)" if before == migrations.head() else f" (head is {migrations.head()})"
            print(before + mark if before else "none: a new database, or one made before migrations")
        engine.dispose()
    except (OSError, SQLAlchemyError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__]
        print(f"tooldesk db {args.db_command}: {shown(url)}: {reason[0]}", file=sys.stderr)
        return 2
    return 0


def missing_database(url: str) -> str:
    """Why a command that only reads (``db current``, ``export``) should not open ``url``: a SQLite file that does
    not exist (a mistyped path would otherwise be made, empty, and read as "nothing there"); ``""`` when it
    exists or the database is not a file."""
    if not url.startswith("sqlite:///"):
        return ""
    path = url.removeprefix("sqlite:///")
    if path in {"", ":memory:"} or Path(path).exists():
        return ""
    return f"no database at {path} (TOOLDESK_DATABASE_URL): check the path; `tooldesk serve` makes a new one"


def _upgrade_said(before: str | None, after: str | None, had_tables: bool) -> str:
    """The line ``db upgrade`` prints: a new database, one made before migrations (adopted), or a step."""
    if after == before:
        return f"already at {after}"
    if before is None and had_tables:
        return f"adopted a database made before migrations and upgraded it to {after}"
    if before is None:
        return f"made a new database at {after}"
    return f"upgraded from {before} to {after}"


def _revision(message: str) -> int:
    """Autogenerate ``versions/NNNN_slug.py`` against a scratch database at head."""
    from app import migrations
    from app.db import make_engine

    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40] or "change"
    revisions = list(ScriptDirectory.from_config(migrations.config()).walk_revisions())
    rev_id = f"{len(revisions) + 1:04d}_{slug}"
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'scratch.db'}")
        with engine.connect() as conn:
            settings = migrations.config(conn)
            settings.set_main_option("file_template", "%%(rev)s")
            command.revision(settings, message=message, autogenerate=True, rev_id=rev_id)
        engine.dispose()
    print(f"tooldesk db: wrote app/migrations/versions/{rev_id}.py: read it, complete it, test it", file=sys.stderr)
    return 0
