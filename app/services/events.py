"""A run's timeline: the one way to write an event.

``add_event`` runs one prebuilt Core ``INSERT`` on the caller's transaction, whether the caller holds an ORM
``Session`` (the services) or a Core ``Connection``; ingestion, the webhook's hot path, passes the DBAPI cursor
under its connection (``sqlite3``'s, or ``fast_sql.PgCursor``), which runs the same row as plain SQL (see
``app.services.fast_sql``). Blocking, like every database write.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert
from sqlmodel import Session

from app.models import Event
from app.services.fast_sql import Cursor
from app.states import EventKind

EVENTS = Event.__table__  # type: ignore[attr-defined]
_INSERT_EVENT = insert(EVENTS)
CONSOLE_MADE = "made in the console, not sent by the platform (edited replay)"
"""How a timeline line caused by a replay of an edited body begins."""
_RAW_INSERT = (
    "INSERT INTO event (task_id, at, kind, summary, delivery_id, round_id, console_made) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


LINES_PER_INSERT = 256
"""Timeline lines in one ``INSERT`` at most (7 values each: well within SQLite's 32,766 and PostgreSQL's 65,535)."""


class TimelineBatch:
    """The timeline lines of one batch of deliveries, held until ``write`` stores them all in one multi-row
    ``INSERT`` (``LINES_PER_INSERT`` lines each at most): on PostgreSQL one statement to the server instead of one per
    line. Nothing in the batch reads them back before; ``write`` keeps their order, so their ids grow as they would
    have line by line."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, float, str, str, int | None, int | None, bool]] = []

    def write(self, cursor: Cursor) -> None:
        """Store the held lines in ``cursor``'s transaction; raises what the ``INSERT`` raises."""
        for start in range(0, len(self.rows), LINES_PER_INSERT):
            rows = self.rows[start : start + LINES_PER_INSERT]
            cursor.execute(_RAW_INSERT + ", (?, ?, ?, ?, ?, ?, ?)" * (len(rows) - 1), [v for row in rows for v in row])
        self.rows.clear()


def add_event(
    *,
    db: Session | Connection | Cursor | TimelineBatch,
    task_id: int,
    kind: EventKind,
    summary: str,
    at: float,
    delivery_id: int | None = None,
    round_id: int | None = None,
    console_made: bool = False,
) -> None:
    """Add one line to run ``task_id``'s timeline at ``at`` (Unix seconds), in ``db``'s open transaction
    (committed with it). ``delivery_id`` and ``round_id`` link the line to what it is about. ``console_made``
    marks a line caused by a replay of an edited body: the flag is stored and the summary starts with
    ``CONSOLE_MADE``. Given a ``TimelineBatch``, the line waits there for the batch's ``write``."""
    if not isinstance(db, Session | Connection):  # a DBAPI cursor or a batch (the hot path)
        text = f"{CONSOLE_MADE}: {summary}" if console_made else summary
        row = (task_id, at, str(kind), text, delivery_id, round_id, bool(console_made))
        if isinstance(db, TimelineBatch):
            db.rows.append(row)
        else:
            db.execute(_RAW_INSERT, row)
        return
    conn = db.connection() if isinstance(db, Session) else db
    conn.execute(
        _INSERT_EVENT,
        {
            "task_id": task_id,
            "at": at,
            "kind": kind,
            "summary": f"{CONSOLE_MADE}: {summary}" if console_made else summary,
            "delivery_id": delivery_id,
            "round_id": round_id,
            "console_made": console_made,
        },
    )
