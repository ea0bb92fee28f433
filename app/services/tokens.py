"""API tokens: created (shown once), listed, revoked, and checked on each request (README, "Security").

A token is ``td_`` and 43 URL-safe characters (256 random bits); only its SHA-256 is stored, with its first
characters for recognising it in a list (the way GitHub and Stripe show tokens).
"""

from __future__ import annotations

import re
import time

from sqlalchemy import Engine
from sqlmodel import col, select

from app.auth.identity import TOKEN_PREFIX, Identity, hash_secret, new_secret
from app.db import read_session, write_session
from app.errors import BadRequest, NotFound
from app.models import ApiToken, TokenPublic
from app.states import Role, Via

NAME = re.compile(r"^[\w .@-]{1,80}$")
SHOWN_CHARS = 8
LAST_USED_EVERY = 5.0
"""Seconds: ``last_used_at`` is written at most this often per token, so a busy script does not write per call."""


def create_token(*, engine: Engine, name: str, role: Role, created_by: str) -> tuple[TokenPublic, str]:
    """A new token named ``name`` with ``role``: its listing and the token itself (shown once, never stored).

    Raises ``BadRequest`` for an empty or too long name (1 to 80 letters, digits, spaces, ``.@_-``).
    """
    name = name.strip()
    if not NAME.match(name):
        raise BadRequest(f"token name {name!r}: use 1 to 80 letters, digits, spaces, '.', '@', '_' or '-'")
    token = new_secret(TOKEN_PREFIX)
    row = ApiToken(
        name=name,
        role=Role(role),
        token_hash=hash_secret(token),
        prefix=token[: len(TOKEN_PREFIX) + SHOWN_CHARS],
        created_at=time.time(),
        created_by=created_by,
    )
    with write_session(engine) as session:
        session.add(row)
        session.flush()
        return _public(row), token


def list_tokens(*, engine: Engine) -> list[TokenPublic]:
    """Every token, revoked ones included, newest first."""
    with read_session(engine) as session:
        return [_public(row) for row in session.exec(select(ApiToken).order_by(col(ApiToken.id).desc()))]


def revoke_token(*, engine: Engine, token_id: int) -> TokenPublic:
    """Revoke token ``token_id`` (from then on it gets 401); revoking twice keeps the first time. Raises
    ``NotFound``."""
    with write_session(engine) as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise NotFound(f"no API token {token_id}: `python -m app token list` shows them")
        if row.revoked_at is None:
            row.revoked_at = time.time()
            session.add(row)
        return _public(row)


def identify_token(*, engine: Engine, token: str) -> Identity | None:
    """The identity of a Bearer ``token``, noting when it was used; ``None`` when unknown or revoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = hash_secret(token)
    now = time.time()
    with read_session(engine) as session:
        row = session.exec(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        with write_session(engine) as session:
            fresh = session.get(ApiToken, row.id)
            if fresh is not None:
                fresh.last_used_at = now
                session.add(fresh)
    return Identity(name=f"token {row.name}", role=row.role, via=Via.TOKEN)


def _public(row: ApiToken) -> TokenPublic:
    assert row.id is not None
    return TokenPublic(
        id=row.id,
        name=row.name,
        role=row.role,
        prefix=row.prefix,
        created_at=row.created_at,
        created_by=row.created_by,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )
