"""The client for the platform's execution API (contract, "HTTP endpoints").

``PlatformClient`` takes an ``httpx.AsyncClient`` so tests can hand it an
``httpx.ASGITransport`` onto the simulator or an ``httpx.MockTransport``.
Every non-2xx answer becomes a ``PlatformError`` carrying the platform's status,
``code`` and ``message``; no answer at all becomes ``PlatformUnreachable``.
"""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ValidationError

from app.errors import PlatformError, PlatformRequestError, PlatformUnreachable, field_problem
from app.protocol import AgentSpec, RunStarted, RunStatus, StartRun, ToolResponses

T = TypeVar("T", bound=BaseModel)

TIMEOUT_SECONDS = 15.0


class PlatformClient:
    """Async calls to ``{base_url}/v1/...`` with ``Authorization: Bearer <api_key>``."""

    def __init__(self, http: httpx.AsyncClient, *, base_url: str, api_key: str) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._headers = {"authorization": f"Bearer {api_key}"}

    async def list_agents(self) -> list[AgentSpec]:
        """``GET /v1/agents`` → the platform's agents with their tools."""
        data = await self._request("GET", "/v1/agents")
        if not isinstance(data, list):
            raise PlatformError("the agent list is not a JSON array", status=502, code="bad_reply")
        return [_reply(AgentSpec, item) for item in data]

    async def start_agent_run(self, *, agent_id: str, body: StartRun) -> RunStarted:
        """``POST /v1/agents/{agent_id}/runs`` (start-only) → ``task_id`` at once."""
        data = await self._request("POST", f"/v1/agents/{_segment(agent_id)}/runs", json=body.model_dump())
        return _reply(RunStarted, data)

    async def get_agent_task_status(self, *, agent_id: str, task_id: int) -> RunStatus:
        """``GET /v1/agents/{agent_id}/runs/{task_id}``: a one-off reconciliation, never a polling loop."""
        return _reply(RunStatus, await self._request("GET", f"/v1/agents/{_segment(agent_id)}/runs/{task_id}"))

    async def send_tool_responses(
        self, *, agent_id: str, task_id: int, body: ToolResponses, idempotency_key: str | None = None
    ) -> RunStatus:
        """``POST .../tool_responses`` with one result per call of the round.

        Raises ``PlatformError`` 409 ``not_awaiting``, 410 ``expired`` or 422
        ``tool_call_mismatch`` as the platform answers.
        """
        headers = {"idempotency-key": idempotency_key} if idempotency_key else {}
        data = await self._request(
            "POST",
            f"/v1/agents/{_segment(agent_id)}/runs/{task_id}/tool_responses",
            json=body.model_dump(),
            headers=headers,
        )
        return _reply(RunStatus, data)

    async def cancel(self, *, agent_id: str, task_id: int) -> RunStatus:
        """``POST .../cancel``; 409 when the run is already terminal."""
        return _reply(RunStatus, await self._request("POST", f"/v1/agents/{_segment(agent_id)}/runs/{task_id}/cancel"))

    async def _request(self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        url = self._base_url + path
        try:
            response = await self._http.request(
                method, url, json=json, headers={**self._headers, **(headers or {})}, timeout=TIMEOUT_SECONDS
            )
        except (httpx.InvalidURL, UnicodeError) as exc:
            raise PlatformRequestError(
                f"could not build the request {method} {path} ({type(exc).__name__}: {exc}): "
                "check the agent id and TOOLDESK_PLATFORM_URL / TOOLDESK_PLATFORM_API_KEY"
            ) from None
        except httpx.HTTPError as exc:
            raise PlatformUnreachable(
                f"no answer from the platform at {shown_url(self._base_url)} ({type(exc).__name__}: {exc}): "
                "is it running, and is TOOLDESK_PLATFORM_URL right?"
            ) from None
        if response.is_success:
            try:
                return response.json()
            except (ValueError, RecursionError):
                raise PlatformError(
                    f"{method} {path} answered {response.status_code} with a body that is not JSON",
                    status=502,
                    code="bad_reply",
                ) from None
        raise _error_from(response)


def _error_from(response: httpx.Response) -> PlatformError:
    code, message = f"http_{response.status_code}", response.text[:300] or response.reason_phrase
    try:
        error = response.json().get("error") or {}
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
    except (ValueError, AttributeError):
        pass
    return PlatformError(message, status=response.status_code, code=code)


def _segment(value: str) -> str:
    """One URL path segment: ``/``, ``?``, ``#`` and the rest percent-encoded."""
    return quote(value, safe="")


def _reply(model: type[T], data: Any) -> T:
    """Parse a success reply; a shape the contract does not allow is ``PlatformError`` 502 ``bad_reply``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PlatformError(
            f"the platform's reply is not a {model.__name__}: {field_problem(exc)}", status=502, code="bad_reply"
        ) from None


def shown_url(url: str) -> str:
    """``url`` as messages and logs show it: without a user name, password or query string, which may hold
    credentials (``https://bob:secret@host/?token=x`` → ``https://host/``)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, (parts.hostname and parts.netloc.rpartition("@")[2]) or "", parts.path, "", ""))
