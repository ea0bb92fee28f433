"""Users: adding, listing, removing, passwords, and the first-start admin (README, "Security").

Passwords are hashed with Argon2id (``pwdlib``'s recommended settings); a password is 8 to 256 characters (NIST SP
800-63B: at least 8, no composition rules). Names are 1 to 64 letters, digits, ``.``, ``_``, ``-`` or ``@``.
"""

from __future__ import annotations

import re
import time

from pwdlib import PasswordHash
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from app.db import read_session, write_session
from app.errors import BadRequest, NotFound
from app.models import User, UserPublic
from app.states import Role

FIRST_ADMIN = "admin"
MIN_PASSWORD = 8
MAX_PASSWORD = 256
NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")

_hasher = PasswordHash.recommended()
_UNUSABLE = _hasher.hash("a password nobody has, checked when the name is unknown")


def add_user(*, engine: Engine, name: str, role: Role, password: str = "") -> UserPublic:
    """Add user ``name`` with ``role`` (and ``password`` unless empty: sign-in only by a ticket until one is set).

    Raises ``BadRequest`` for a bad name or password, or a name already taken.
    """
    _check_name(name)
    hashed = _hash(password) if password else ""
    with write_session(engine) as session:
        if session.exec(select(User).where(User.name == name)).first() is not None:
            raise BadRequest(f"user {name!r} exists already: choose another name, or `user passwd {name}`")
        user = User(name=name, role=Role(role), password_hash=hashed, created_at=time.time())
        session.add(user)
        session.flush()
        return _public(user)


def set_password(*, engine: Engine, name: str, password: str) -> None:
    """Set the password of user ``name``. Raises ``NotFound`` for an unknown name, ``BadRequest`` for a bad
    password."""
    hashed = _hash(password)
    with write_session(engine) as session:
        user = _get(session, name)
        user.password_hash = hashed
        session.add(user)


def list_users(*, engine: Engine) -> list[UserPublic]:
    """Every user, by name."""
    with read_session(engine) as session:
        return [_public(user) for user in session.exec(select(User).order_by(col(User.name)))]


def remove_user(*, engine: Engine, name: str) -> None:
    """Remove user ``name`` and end their sessions. Raises ``NotFound`` for an unknown name and ``BadRequest``
    for the last admin (nobody could manage users any more)."""
    with write_session(engine) as session:
        user = _get(session, name)
        if user.role == Role.ADMIN:
            admins = session.exec(select(func.count()).select_from(User).where(User.role == Role.ADMIN)).one()
            if admins <= 1:
                raise BadRequest(f"{name!r} is the last admin: add another admin first")
        session.delete(user)


def check_password(*, engine: Engine, name: str, password: str) -> UserPublic | None:
    """The user when ``password`` is theirs, else ``None`` (an unknown name costs as much time as a known one)."""
    with read_session(engine) as session:
        user = session.exec(select(User).where(User.name == name)).first()
    if user is None or not user.password_hash or len(password) > MAX_PASSWORD:
        _hasher.verify(password[:MAX_PASSWORD], _UNUSABLE)
        return None
    return _public(user) if _hasher.verify(password, user.password_hash) else None


def first_admin_without_password(*, engine: Engine) -> str | None:
    """At start: with no user at all, add ``admin`` (no password) and return its name; with users but none able
    to sign in by password, the name of the first admin (so a new sign-in link can be printed); else ``None``."""
    with write_session(engine) as session:
        users = list(session.exec(select(User).order_by(col(User.id))))
        if not users:
            session.add(User(name=FIRST_ADMIN, role=Role.ADMIN, created_at=time.time()))
            return FIRST_ADMIN
        if any(user.password_hash for user in users):
            return None
        admins = [user.name for user in users if user.role == Role.ADMIN]
        return admins[0] if admins else None


def first_admin(*, engine: Engine) -> str | None:
    """The name of the admin added first, or ``None`` when there is no admin."""
    with read_session(engine) as session:
        return session.exec(select(User.name).where(User.role == Role.ADMIN).order_by(col(User.id))).first()


def user_id(*, engine: Engine, name: str) -> int:
    """The id of user ``name``; raises ``NotFound``."""
    with read_session(engine) as session:
        found = _get(session, name).id
    assert found is not None
    return found


def _get(session: Session, name: str) -> User:
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFound(f"no user {name!r}: `python -m app user list` shows who there is")
    return user


def _check_name(name: str) -> None:
    if not NAME.match(name):
        raise BadRequest(f"user name {name!r}: use 1 to 64 letters, digits, '.', '_', '-' or '@'")


def _hash(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise BadRequest(f"password: use {MIN_PASSWORD} to {MAX_PASSWORD} characters (got {len(password)})")
    return _hasher.hash(password)


def _public(user: User) -> UserPublic:
    return UserPublic(name=user.name, role=user.role, has_password=bool(user.password_hash), created_at=user.created_at)
