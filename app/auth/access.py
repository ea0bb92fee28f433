"""Who a request is, and the role each ``/api`` route needs.

Every ``/api`` route names its role in its decorator, ``dependencies=[Depends(need(Role.ANSWERER))]``, the one
place a reader (and ``tests/api/test_access.py``, which walks them) finds it. ``need`` answers 401 without a valid
token or session, and 403 ``forbidden`` naming the role needed when the caller's role is below it.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from app.answerers import Answerer
from app.auth.identity import SESSION_COOKIE, SIGN_IN_OFF, Identity
from app.errors import Forbidden, Unauthorized
from app.runtime import get_runtime
from app.services import audit, sign_in, tokens
from app.states import Role, Via

SIGN_IN_HINT = (
    "send 'Authorization: Bearer <token>' (`python -m app token create --name NAME --role ROLE`, or the Users and "
    "tokens page), or sign in at /signin"
)


@dataclass(frozen=True)
class Need:
    """A FastAPI dependency: the request's identity when its role includes ``role``; raises ``Unauthorized`` (401)
    or ``Forbidden`` (403). Runs in FastAPI's thread pool (it reads the database)."""

    role: Role

    def __call__(self, request: HTTPConnection) -> Identity:
        identity = identify(request)
        if identity is None:
            raise Unauthorized(f"{_what(request)} needs you signed in: {SIGN_IN_HINT}")
        if not identity.may(self.role):
            raise Forbidden(
                f"{_what(request)} needs the role {self.role} or above; {identity.name} is {identity.role}: "
                "ask an admin for a token or user with that role"
            )
        audit.act_as(identity)
        return identity


def need(role: Role) -> Need:
    """The dependency for a route that ``role`` (or a role above it) may call."""
    return Need(role)


def is_admin(request: HTTPConnection) -> bool:
    """Whether the caller is an admin (always, with sign-in off); for what a route shows admins only, such as a
    stored signature. Raises ``Unauthorized`` as ``identify``."""
    caller = identify(request)
    return caller is not None and caller.may(Role.ADMIN)


def identify(request: HTTPConnection) -> Identity | None:
    """The caller, from ``Authorization: Bearer <token>`` when that header is sent (the cookie is then ignored),
    else from the session cookie; ``SIGN_IN_OFF`` when sign-in is off. Kept on ``request.state`` once found.

    Raises ``Unauthorized`` for an ``Authorization`` header that is not a known, unrevoked Bearer token.
    """
    known = getattr(request.state, "identity", None)
    if isinstance(known, Identity):
        return known
    runtime = get_runtime()
    identity: Identity | None = None
    if not runtime.settings.auth:
        request.state.identity = SIGN_IN_OFF
        return SIGN_IN_OFF
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(f"the Authorization header is not 'Bearer <token>': {SIGN_IN_HINT}")
        identity = tokens.identify_token(engine=runtime.engine, token=token.strip())
        if identity is None:
            raise Unauthorized("this API token is unknown or revoked: create a new one (Users and tokens page)")
    elif cookie := request.cookies.get(SESSION_COOKIE):
        identity = sign_in.identify_session(
            engine=runtime.engine, session_id=cookie, idle_timeout=runtime.settings.session_idle_timeout
        )
    if identity is not None:
        request.state.identity = identity
    return identity


def api_answerer(request: HTTPConnection, answered_by: str) -> Answerer:
    """Who answered through the API, as stored: the ``answered_by`` the body gives, followed by the caller that
    proved it (``"ci (token nightly)"``, ``"api (alice)"``), or the caller alone when the two are equal. A token or a
    session cannot make a round read "answered by person: alice" for someone else (issue 8: the timeline says who
    answered, as data). With sign-in off nobody proves anything, and ``answered_by`` is kept as given."""
    identity = identify(request)
    if identity is None or identity.via == Via.OFF or answered_by == identity.name:
        return Answerer.person(answered_by)
    return Answerer.person(f"{answered_by} ({identity.name})")


def _what(request: HTTPConnection) -> str:
    method = request.scope.get("method", "GET")
    return f"{method} {request.url.path}"
