"""``GET /signin/ticket?ticket=...``: a single-use sign-in ticket becomes a session cookie, then a redirect.

The cookie is ``HttpOnly`` (scripts cannot read it), ``SameSite=Lax`` (other sites' requests do not carry it, except
top-level links) and ``Secure`` when ``TOOLDESK_PUBLIC_URL`` is https; it holds a random session id and lasts until
the browser closes, sign-out, or the idle timeout ends the session on the server.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse

from app.auth.identity import SESSION_COOKIE
from app.errors import Unauthorized
from app.runtime import get_runtime
from app.services import sign_in

router = APIRouter()


@router.get("/signin/ticket", include_in_schema=False)
async def redeem(request: Request, ticket: str = Query("", max_length=200)) -> RedirectResponse:
    runtime = get_runtime()
    address = request.client.host if request.client else ""
    try:
        session_id, then = await asyncio.to_thread(
            lambda: sign_in.redeem_ticket(engine=runtime.engine, ticket=ticket, address=address)
        )
    except Unauthorized as exc:
        return RedirectResponse(f"/signin?problem={quote(exc.message)}", status_code=303)
    answer = RedirectResponse(local_path(then), status_code=303)
    answer.set_cookie(
        SESSION_COOKIE,
        session_id,
        httponly=True,
        samesite="lax",
        secure=runtime.settings.secure_cookies,
        path="/",
    )
    return answer


def local_path(value: str) -> str:
    """``value`` when it is a path on this console (``/runs?status=failed``), else ``/``: a sign-in never sends
    the browser to another site (an open redirect)."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value or any(c < " " for c in value):
        return "/"
    return value
