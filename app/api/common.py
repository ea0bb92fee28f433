"""What every API module shares: id types, body parsing, and the error answers in the contract's shape."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Path, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import BadRequest, TooldeskError
from app.protocol import INT64_MAX

M = TypeVar("M", bound=BaseModel)
Id = Annotated[int, Path(ge=1, le=INT64_MAX, description="a positive integer that fits SQLite's 64 bits")]


async def tooldesk_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Turn a ``TooldeskError`` into its status and the contract's error body."""
    assert isinstance(exc, TooldeskError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def parse_body(request: Request, model: type[M]) -> M:
    """The request body as ``model``; raises ``BadRequest`` (422) naming the first problem and where."""
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first: dict[str, Any] = dict(exc.errors()[0])
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadRequest(f"{where}: {first['msg']}") from None


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own parameter errors, in the contract's error shape with status 422."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(part) for part in first.get("loc", ())) or "request"
    return JSONResponse({"error": {"code": "bad_request", "message": f"{where}: {first.get('msg')}"}}, status_code=422)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own HTTP errors (405 and the like) in the contract's shape under ``/api`` and ``/webhooks``;
    elsewhere (the pages) FastAPI's default answer."""
    assert isinstance(exc, StarletteHTTPException)
    if not request.url.path.startswith(("/api/", "/webhooks/")):
        return await http_exception_handler(request, exc)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return JSONResponse(
        {"error": {"code": code, "message": message}},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )
