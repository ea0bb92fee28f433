"""What every API module shares: id types, the JSON content-type rule, body documentation, and the error
answers in the contract's shape."""

from __future__ import annotations

import email.message
import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ExceptionHandler

from app.errors import TooldeskError, UnsupportedMediaType, field_problem
from app.protocol import INT64_MAX

JSON_PATHS = ("/api/", "/webhooks/", "/sim/")
"""Paths whose refusals take the contract's error shape: the API, the webhook, the embedded simulator."""

Id = Annotated[int, Path(ge=1, le=INT64_MAX, description="a positive integer that fits SQLite's 64 bits")]
WRITES = frozenset({"POST", "PUT", "PATCH"})


class NoSettings(BaseModel):
    """The body of an action that takes no settings: ``{}`` (or no body; other fields are ignored)."""


async def require_json(request: Request) -> None:
    """Every POST, PUT and PATCH under ``/api`` must say ``Content-Type: application/json`` (or ``…+json``), body
    or not; raises ``UnsupportedMediaType`` (415) before anything is done. A cross-origin page can send a
    ``text/plain`` or form body without a CORS preflight, but not a JSON one (security review)."""
    refusal = json_refusal(request.method, request.url.path, request.headers.get("content-type", ""))
    if refusal is not None:
        raise refusal


def json_refusal(method: str, path: str, content_type: str) -> UnsupportedMediaType | None:
    """The 415 for a write under ``/api`` whose ``content_type`` is not JSON, or ``None`` when it may go on."""
    if method not in WRITES or _is_json(content_type):
        return None
    what = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
    return UnsupportedMediaType(
        f"{method} {path} sent {what}: send the body as JSON with "
        "'Content-Type: application/json' (an empty object {} where no settings are needed)"
    )


def json_body(model: type[BaseModel], description: str) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON request body of ``model`` for a route that reads the raw bytes itself
    (the webhook, the config import): the model's JSON Schema with its ``$defs`` inlined."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": _inline(schema, defs, depth=0)}},
        }
    }


async def tooldesk_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Turn a ``TooldeskError`` into its status and the contract's error body; one that says when to try again
    (``retry_after``: ``RateLimited``, ``Overloaded``, ``DatabaseUnavailable`` from a replay) also as ``Retry-After``."""
    assert isinstance(exc, TooldeskError)
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own errors, in the contract's error shape with status 422: a bad body is ``bad_body`` with
    ``"field: message"`` (the field path inside the body), a bad path or query parameter ``bad_request``."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first: dict[str, Any] = dict(errors[0]) if errors else {"loc": (), "msg": "invalid request"}
    loc = tuple(first.get("loc", ()))
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "not JSON")
        message = f"the body is not JSON ({reason} at char {loc[-1] if len(loc) > 1 else 0}): send a JSON object"
        return _error(422, "bad_body", message)
    if loc[:1] == ("body",):
        return _error(422, "bad_body", field_problem(exc, where="body", skip=1))
    return _error(422, "bad_request", field_problem(exc, where="request"))


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own HTTP errors (405 and the like) in the contract's shape under ``/api``, ``/webhooks`` and
    the embedded simulator's ``/sim``; elsewhere (the pages) FastAPI's default answer."""
    assert isinstance(exc, StarletteHTTPException)
    if not request.url.path.startswith(JSON_PATHS):
        return await http_exception_handler(request, exc)
    code = {400: "bad_body", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, f"http_{exc.status_code}"
    )
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return JSONResponse(
        {"error": {"code": code, "message": message}},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def json_not_found(pages: Callable[[Request, Any], Response | Awaitable[Response]]) -> ExceptionHandler:
    """The handler of 404 for the app: under ``JSON_PATHS`` (a path no route serves, ``POST /api/nope``) the
    contract's ``not_found``; elsewhere ``pages``, NiceGUI's own, which draws the console's frame for a path of its
    sub pages. NiceGUI registers that handler for the status 404, which Starlette prefers to one for the class
    ``HTTPException``: without this, every unknown ``/api/...`` path answered 200 with the console's HTML page."""

    async def handle(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith(JSON_PATHS) and isinstance(exc, StarletteHTTPException):
            return await http_error_handler(request, exc)
        answer = pages(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    handle.json_paths = True  # type: ignore[attr-defined]
    return handle


DATABASE_RETRY_SECONDS = 5
"""``Retry-After`` of a 503 for a database that cannot be used right now."""


async def database_error_handler(request: Request, exc: Exception) -> Response:
    """A database that cannot be used at that moment (a read-only file or volume, a disk full, a lock held past
    the busy timeout: the driver's ``OperationalError``) is the service's state, not a bug: 503 with
    ``Retry-After`` and the driver's first line, in the contract's shape under the JSON paths and as text for the
    pages' forms (sign-in), instead of a 500. ``GET /readyz`` says the same to probes."""
    original = getattr(exc, "orig", None) or exc
    said = (str(original).strip().splitlines() or [type(original).__name__])[0]
    message = f"the console cannot use its database right now ({said}); try again, and see GET /readyz if it lasts"
    headers = {"Retry-After": str(DATABASE_RETRY_SECONDS)}
    if request.url.path.startswith(JSON_PATHS):
        return _error(503, "database_unavailable", message, headers=headers)
    return PlainTextResponse(f"Tooldesk: {message}", status_code=503, headers=headers)


def _is_json(content_type: str) -> bool:
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _inline(node: Any, defs: dict[str, Any], *, depth: int) -> Any:
    if depth > 32:  # a recursive model: leave the rest open
        return {}
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs, depth=depth + 1)
        return {key: _inline(value, defs, depth=depth) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, defs, depth=depth) for item in node]
    return node


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)
