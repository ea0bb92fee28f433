"""The exception tree. Every error knows its HTTP status and a stable ``code``.

```
TooldeskError                 500 (never raised bare)
├── SettingsError             a bad TOOLDESK_* value; stops start-up
├── DeliveryRefused           400, a webhook delivery we store but do not apply
│   ├── BadHeaders            400 missing or malformed webhook-id / -timestamp / -signature
│   ├── BadTimestamp          400 timestamp more than 300 s off
│   ├── BadSignature          401 no signature matches the body
│   ├── BadBody               400 not UTF-8, not JSON, or not a run status
│   └── BodyTooLarge          413 a body over the size limit (not read past it)
├── RateLimited               429 too many refused requests from one address (not stored; Retry-After)
├── Overloaded                503 the webhook's queue is full (not stored; Retry-After)
├── BadRequest                422 a request body the API cannot use
├── UnsupportedMediaType      415 an /api write whose Content-Type is not JSON
├── Unauthorized              401 no valid session cookie or API token (or a failed sign-in)
├── Forbidden                 403 signed in, but the role does not allow it, or a write from another origin
├── SandboxUnavailable        503 the Python sandbox could not start a worker
├── TemplateError             422 a handler template failed to render (app.handlers.templates)
├── HandlerInvalid            422 a handler's settings do not check out (names rule, field, line)
├── NotFound                  404 an unknown round, run or agent
├── RotationRefused           409 the webhook secret comes from TOOLDESK_WEBHOOK_SECRET, so the console cannot rotate it
├── RoundClosed               409 the round is no longer pending (answered, expired, superseded)
├── SweepOver                 409 a sweep whose runs have all ended cannot be cancelled
├── ResultsMismatch           422 results missing or naming unknown tool call ids
└── PlatformError             the platform answered non-2xx (status and code from its body)
    ├── PlatformRequestError  400 the request could not be built (bad URL or header); nothing was sent
    └── PlatformUnreachable   502 no answer from the platform
```

Every message says what happened and what to do next. ``field_problem`` and
``field_problems`` word a pydantic ``ValidationError`` as "field: message".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from app.states import Verdict


class TooldeskError(Exception):
    """Base class: ``status`` is the HTTP status a route answers, ``code`` a snake_case name."""

    status = 500
    code = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, dict[str, str]]:
        """The contract's error shape: ``{"error": {"code", "message"}}``."""
        return {"error": {"code": self.code, "message": self.message}}


class SettingsError(TooldeskError):
    code = "bad_setting"


class DeliveryRefused(TooldeskError):
    """A webhook request refused; ``verdict`` is what its stored row says (each subclass names its own)."""

    status = 400
    code = "delivery_refused"
    verdict: Verdict = Verdict.BAD_BODY


class BadHeaders(DeliveryRefused):
    code = "bad_headers"
    verdict = Verdict.BAD_HEADERS


class BadTimestamp(DeliveryRefused):
    code = "bad_timestamp"
    verdict = Verdict.BAD_TIMESTAMP


class BadSignature(DeliveryRefused):
    status = 401
    code = "bad_signature"
    verdict = Verdict.BAD_SIGNATURE


class BadBody(DeliveryRefused):
    code = "bad_body"
    verdict = Verdict.BAD_BODY


class BodyTooLarge(DeliveryRefused):
    status = 413
    code = "body_too_large"
    verdict = Verdict.TOO_LARGE


class BodyTimeout(TooldeskError):
    """A webhook body that did not arrive whole within ``app.webhooks.body.READ_SECONDS``: answered, not stored."""

    status = 408
    code = "body_timeout"


class RateLimited(TooldeskError):
    """Too many refused webhook requests from one source address; ``retry_after`` is whole seconds (for the
    ``Retry-After`` header, RFC 9110 section 10.2.3)."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(TooldeskError):
    """The webhook's queue of deliveries waiting for their commit is full (``TOOLDESK_INGEST_QUEUE``): answered at
    once, nothing stored; the platform retries any non-2xx with the same webhook-id. ``retry_after``: whole
    seconds."""

    status = 503
    code = "overloaded"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DatabaseUnavailable(Overloaded):
    """The database could not be used to store a delivery (server down, a lock or statement timeout, SQLite's
    "database is locked" or a read-only file: the driver's ``OperationalError``): 503 with ``Retry-After`` as
    the API's ``database_error_handler`` answers, nothing stored; the platform retries with the same webhook-id."""

    code = "database_unavailable"


class BadRequest(TooldeskError):
    status = 422
    code = "bad_body"


class SearchTooSlow(TooldeskError):
    """A runs search that ran past ``app.services.runs.SEARCH_SECONDS`` and was stopped (e.g. one character
    repeated hundreds of times, which every trigram of a long document matches)."""

    status = 422
    code = "search_too_slow"


class UnsupportedMediaType(TooldeskError):
    status = 415
    code = "unsupported_media_type"


class Unauthorized(TooldeskError):
    status = 401
    code = "unauthorized"


class Forbidden(TooldeskError):
    status = 403
    code = "forbidden"


class SandboxUnavailable(TooldeskError):
    status = 503
    code = "sandbox_unavailable"


class HandlerInvalid(TooldeskError):
    status = 422
    code = "handler_invalid"


class NotFound(TooldeskError):
    status = 404
    code = "not_found"


class ReplayRefused(TooldeskError):
    """A refused delivery cannot be replayed: re-signing it would make an unverified body look like the
    platform's (case C16)."""

    status = 409
    code = "replay_refused"


class RotationRefused(TooldeskError):
    """The webhook secret is set by ``TOOLDESK_WEBHOOK_SECRET``, which wins over the database: a secret rotated
    in the console would be forgotten at the next start."""

    status = 409
    code = "rotation_refused"


class RoundClosed(TooldeskError):
    status = 409
    code = "round_closed"


class SweepOver(TooldeskError):
    """Every run of the sweep has ended: there is nothing left to cancel."""

    status = 409
    code = "sweep_over"


class ResultsMismatch(TooldeskError):
    status = 422
    code = "tool_call_mismatch"


class PlatformError(TooldeskError):
    """The platform refused a request; ``status`` and ``code`` are the platform's own."""

    def __init__(self, message: str, *, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class PlatformUnreachable(PlatformError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status=502, code="platform_unreachable")


class PlatformRequestError(PlatformError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status=400, code="invalid_request")


class HasErrors(Protocol):
    """A pydantic ``ValidationError`` or FastAPI's ``RequestValidationError``: anything with ``errors()``."""

    def errors(self) -> Sequence[Any]: ...


def field_problems(exc: HasErrors, *, where: str = "body", skip: int = 0, brackets: bool = False) -> list[str]:
    """Each error of ``exc`` as ``"field.path: message"`` (e.g. ``"results.0.output: Field required"``).

    ``where`` names the whole input when an error has no location; ``skip`` drops that many leading location
    parts (FastAPI's ``"body"``); ``brackets`` writes list indices as ``handlers[2].kind``. Pydantic's
    ``"Value error, "`` prefix is dropped.
    """
    problems = []
    for error in exc.errors():
        location = _location(tuple(error.get("loc", ()))[skip:], brackets=brackets) or where
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        problems.append(f"{location}: {message}")
    return problems or [f"{where}: invalid value"]


def field_problem(exc: HasErrors, *, where: str = "body", skip: int = 0, brackets: bool = False) -> str:
    """The first error of ``exc`` as ``"field.path: message"`` (see ``field_problems``)."""
    return field_problems(exc, where=where, skip=skip, brackets=brackets)[0]


def _location(loc: tuple[Any, ...], *, brackets: bool) -> str:
    if not brackets:
        return ".".join(str(part) for part in loc)
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
