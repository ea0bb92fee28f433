"""Sign-in tickets and sessions (README, "Security").

A *ticket* is a single-use, expiring secret in a URL (``/signin/ticket?ticket=...``) that becomes a session: the
first-start link printed to the terminal, or the step right after a password was checked on the sign-in page. A
*session* is a row per signed-in browser; its cookie holds a random id, the row that id's SHA-256. A session ends at
sign-out, when it has been idle longer than ``TOOLDESK_SESSION_IDLE_TIMEOUT`` seconds, or when its user is removed.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine, delete
from sqlmodel import col, select

from app.auth.identity import Identity, hash_secret, new_secret
from app.db import read_session, write_session
from app.errors import Unauthorized
from app.models import SignInSession, SignInTicket, User
from app.states import Via

TOUCH_EVERY = 5.0
"""Seconds: a session's ``last_seen_at`` is written at most this often."""


def issue_ticket(*, engine: Engine, user_id: int, ttl: float, then: str = "/") -> str:
    """A new ticket for user ``user_id``, valid ``ttl`` seconds, after which the browser goes to ``then`` (a path
    on the console). Returns the ticket itself; only its hash is stored."""
    ticket = new_secret()
    with write_session(engine) as session:
        session.add(
            SignInTicket(ticket_hash=hash_secret(ticket), user_id=user_id, expires_at=time.time() + ttl, then=then)
        )
    return ticket


def redeem_ticket(*, engine: Engine, ticket: str, address: str) -> tuple[str, str]:
    """Use a ticket up and open a session: ``(session id for the cookie, path to go to)``.

    Raises ``Unauthorized`` when the ticket is unknown, used already or expired.
    """
    now = time.time()
    session_id = new_secret()
    with write_session(engine) as session:
        row = session.get(SignInTicket, hash_secret(ticket))
        if row is None or row.expires_at < now:
            raise Unauthorized("this sign-in link is used or expired: sign in with your password, or ask an admin")
        session.delete(row)
        session.add(
            SignInSession(
                id_hash=hash_secret(session_id), user_id=row.user_id, created_at=now, last_seen_at=now, address=address
            )
        )
        session.exec(delete(SignInTicket).where(col(SignInTicket.expires_at) < now))
        return session_id, row.then


def open_session(*, engine: Engine, user_id: int, address: str = "") -> str:
    """A new session for user ``user_id`` without a ticket (the command line and tests); its cookie value."""
    now = time.time()
    session_id = new_secret()
    with write_session(engine) as session:
        session.add(
            SignInSession(
                id_hash=hash_secret(session_id), user_id=user_id, created_at=now, last_seen_at=now, address=address
            )
        )
    return session_id


def identify_session(*, engine: Engine, session_id: str, idle_timeout: float) -> Identity | None:
    """The signed-in user of a session cookie, noting that it was seen; ``None`` when the session is unknown,
    ended, or idle longer than ``idle_timeout`` seconds (then it is ended)."""
    return identify_session_hash(engine=engine, id_hash=hash_secret(session_id), idle_timeout=idle_timeout)


def identify_session_hash(*, engine: Engine, id_hash: str, idle_timeout: float, touch: bool = True) -> Identity | None:
    """As ``identify_session``, from the stored hash (what an open page keeps); ``touch=False`` only checks, so
    an open tab that nobody uses still reaches the idle timeout."""
    now = time.time()
    with read_session(engine) as session:
        found = session.exec(select(SignInSession, User).join(User).where(SignInSession.id_hash == id_hash)).first()
    if found is None:
        return None
    row, user = found
    if now - row.last_seen_at > idle_timeout:
        end_session(engine=engine, id_hash=id_hash)
        return None
    if touch and now - row.last_seen_at >= TOUCH_EVERY:
        with write_session(engine) as session:
            fresh = session.get(SignInSession, id_hash)
            if fresh is not None:
                fresh.last_seen_at = now
                session.add(fresh)
    return Identity(name=user.name, role=user.role, via=Via.SESSION, session_hash=id_hash)


def end_session(*, engine: Engine, id_hash: str) -> None:
    """End a session (sign-out); ending one that is gone already does nothing."""
    with write_session(engine) as session:
        row = session.get(SignInSession, id_hash)
        if row is not None:
            session.delete(row)
