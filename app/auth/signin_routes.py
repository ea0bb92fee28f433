"""``GET /signin/ticket?ticket=...``: a single-use sign-in ticket becomes a session cookie, then a redirect.

The cookie is ``HttpOnly`` (scripts cannot read it), ``SameSite=Lax`` (other sites' requests do not carry it, except
top-level links) and ``Secure`` when ``TOOLDESK_PUBLIC_URL`` is https; it holds a random session id and lasts until
the browser closes, sign-out, or the idle timeout ends the session on the server.

A ticket is redeemed only from a navigation the person made: ``Sec-Fetch-Site`` ``none`` (a link pasted or opened
from the terminal, the desktop window) or ``same-origin`` (the password form), or a client that sends no fetch
metadata. Otherwise a page on another site could sign the browser in as the page's author, whose own ticket it
holds (login CSRF: OWASP Cross-Site Request Forgery Prevention Cheat Sheet, "Login CSRF"; the ``Sec-Fetch-Site``
header: W3C Fetch Metadata Request Headers). Such a request is sent to ``/signin`` with a message, and the ticket is
left unused.
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

OWN_NAVIGATION = ("none", "same-origin")
"""``Sec-Fetch-Site`` values a ticket is redeemed from (module docstring)."""
FROM_ANOTHER_SITE = (
    "This sign-in link was opened from another site, so it was not used: paste it into the address bar yourself, "
    "or sign in with your password"
)


@router.get("/signin/ticket", include_in_schema=False)
async def redeem(request: Request, ticket: str = Query("", max_length=200)) -> RedirectResponse:
    if request.headers.get("sec-fetch-site", "none") not in OWN_NAVIGATION:
        return RedirectResponse(f"/signin?problem={quote(FROM_ANOTHER_SITE)}", status_code=303)
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
