"""Who a request is: ``Identity``; and the one way random secrets (session ids, tickets, API tokens) are made and
stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from app.states import Role, Via

SESSION_COOKIE = "tooldesk_session"
TOKEN_PREFIX = "td_"


@dataclass(frozen=True)
class Identity:
    """A signed-in user (``via`` session), an API token (``name`` is the token's), or everyone when sign-in is
    off (``TOOLDESK_AUTH=off``: an admin). ``session_hash`` is set for a session, so it can be ended."""

    name: str
    role: Role
    via: Via
    session_hash: str = ""

    def may(self, role: Role) -> bool:
        """True when this identity's role includes ``role``."""
        return self.role.rank >= role.rank


SIGN_IN_OFF = Identity(name="sign-in off", role=Role.ADMIN, via=Via.OFF)


def new_secret(prefix: str = "") -> str:
    """``prefix`` and 43 URL-safe characters (32 random bytes)."""
    return prefix + secrets.token_urlsafe(32)


def hash_secret(value: str) -> str:
    """SHA-256 hex of a high-entropy secret: the form in which session ids, tickets and API tokens are stored (a
    slow password hash buys nothing for 256 random bits)."""
    return hashlib.sha256(value.encode()).hexdigest()
