"""SQLModel tables of who may use the console: users, their sign-in sessions, one-time sign-in tickets and API
tokens. Times are Unix seconds (float, UTC). Nothing secret is stored as it was given: passwords as Argon2 hashes,
session ids, tickets and API tokens as the SHA-256 of their random text (README, "Security")."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from app.models.columns import EnumText
from app.states import Role


class User(SQLModel, table=True):
    """A person who signs in; ``password_hash`` is empty until a password is set (e.g. the first-start admin)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    role: Role = Field(sa_type=EnumText(Role))
    password_hash: str = ""
    created_at: float


class SignInSession(SQLModel, table=True):
    """One signed-in browser: the cookie holds a random id, this row its SHA-256. Gone at sign-out, at the idle
    timeout (``last_seen_at`` too old) or when the user is removed."""

    id_hash: str = Field(primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    created_at: float
    last_seen_at: float
    address: str = ""


class SignInTicket(SQLModel, table=True):
    """A single-use, expiring ticket that signs a browser in (``GET /signin/ticket?ticket=...``): the first-start
    link, or the step after a password was checked. ``then`` is where the browser goes afterwards."""

    ticket_hash: str = Field(primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    expires_at: float
    then: str = "/"


class ApiToken(SQLModel, table=True):
    """A token for scripts, sent as ``Authorization: Bearer td_...``; shown once, this row keeps its SHA-256."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    role: Role = Field(sa_type=EnumText(Role))
    token_hash: str = Field(unique=True, index=True)
    prefix: str
    created_at: float
    created_by: str = ""
    last_used_at: float | None = None
    revoked_at: float | None = None


class UserPublic(SQLModel):
    """A user as ``user list`` and the Users and tokens page show it; never the password hash."""

    name: str
    role: Role
    has_password: bool
    created_at: float


class TokenPublic(SQLModel):
    """An API token as listed: its name, role, first characters (``prefix``) and times; never the token."""

    id: int
    name: str
    role: Role
    prefix: str
    created_at: float
    created_by: str
    last_used_at: float | None
    revoked_at: float | None
