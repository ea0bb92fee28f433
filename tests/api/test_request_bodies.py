"""What a client sees of request bodies: each one documented at ``/docs``, JSON only under ``/api`` (415 before
anything is done otherwise), and any malformed body a 4xx in the contract's shape with the field it is about."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from nicegui import app as nicegui_app

from app.guard import API_MAX_BODY_BYTES

CLOCK = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b01"
JSON = {"content-type": "application/json"}
HANDLER = {"agent_id": CLOCK, "tool_name": "get_current_time", "kind": "static", "spec": {"output": "noon"}}


async def test_openapi_documents_a_request_body_for_every_post_and_put(console: httpx.AsyncClient):
    nicegui_app.openapi_schema = None
    schema = (await console.get("/openapi.json")).json()
    writes = [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("post", "put", "patch")
    ]
    paths = {path for _, path, _ in writes}
    assert {"/webhooks/sudoiq", "/api/demo", "/api/config", "/sim/v1/agents/{agent_id}/runs/{task_id}/cancel"} <= paths
    assert [f"{method} {path}" for method, path, operation in writes if "requestBody" not in operation] == []
    assert [ref for ref in _refs(schema) if _resolve(schema, ref) is None] == []


async def test_text_plain_handler_save_refused_415_and_not_saved(console: httpx.AsyncClient):
    """Security review: a page on another origin can POST ``text/plain`` without a CORS preflight."""
    response = await console.post(
        "/api/handlers",
        content=httpx.Request("POST", "/", json=HANDLER).content,
        headers={"content-type": "text/plain"},
    )

    assert response.status_code == 415
    error = response.json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert "'text/plain'" in error["message"] and "application/json" in error["message"]
    assert (await console.get("/api/handlers")).json() == []


async def test_bodyless_demo_without_content_type_refused_415_and_nothing_started(console: httpx.AsyncClient):
    response = await console.post("/api/demo")

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert "no Content-Type" in response.json()["error"]["message"]
    assert (await console.get("/api/handlers")).json() == []
    assert (await console.get("/api/runs")).json()["total"] == 0


async def test_json_with_charset_or_plus_json_accepted(console: httpx.AsyncClient):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await console.post(
            "/api/handlers",
            content=httpx.Request("POST", "/", json=HANDLER).content,
            headers={"content-type": content_type},
        )
        assert response.status_code == 200, (content_type, response.text)


@pytest.mark.parametrize(
    ("path", "raw", "words"),
    [
        ("/api/handlers", b"", "body: Field required"),
        ("/api/handlers", b"{not json", "not JSON"),
        ("/api/handlers", b"[1, 2]", "body: Input should be a valid dictionary"),
        ("/api/handlers", b'{"agent_id": 5, "tool_name": "t", "kind": "static"}', "agent_id: Input should be"),
        ("/api/runs/1001/replay", b'{"until_round": 1e400}', "until_round: "),
        ("/api/runs/1001/replay", b'{"until_round": ' + b"9" * 400 + b"}", "until_round: "),
        ("/api/rounds/1/responses", b'{"results": "none"}', "results: Input should be a valid list"),
        ("/api/handlers/test", b'{"kind": "static", "task_id": 99999999999999999999}', "task_id: "),
        ("/api/handlers/test", b'{"kind": "static", "tool_name": "' + b"t" * 300 + b'"}', "tool_name: "),
    ],
    ids=["empty", "not-json", "array", "wrong-type", "infinity", "huge-int", "results-string", "huge-id", "long"],
)
async def test_malformed_body_is_422_naming_the_field(console: httpx.AsyncClient, path: str, raw: bytes, words: str):
    response = await console.post(path, content=raw, headers=JSON)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "bad_body"
    assert words in response.json()["error"]["message"]


async def test_body_nested_too_deeply_is_4xx_not_500(console: httpx.AsyncClient):
    response = await console.post("/api/handlers", content=b"[" * 100_000 + b"]" * 100_000, headers=JSON)

    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()["error"]) == {"code", "message"}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def _resolve(schema: dict[str, Any], ref: str) -> Any:
    node: Any = schema
    for part in ref.removeprefix("#/").split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    return node


class _CountedBody(httpx.AsyncByteStream):
    """A request body of ``chunks`` megabytes that counts how many the server asked for."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.sent += 1
            yield b"A" * 1_000_000


async def test_text_plain_large_body_refused_415_before_it_is_read(console: httpx.AsyncClient):
    """A page on another origin can make a browser POST hundreds of megabytes as ``text/plain``."""
    body = _CountedBody(200)

    response = await console.post("/api/handlers/test", content=body, headers={"content-type": "text/plain"})

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert body.sent <= 1


async def test_json_body_over_limit_refused_413_without_reading_the_rest(console: httpx.AsyncClient):
    body = _CountedBody(200)

    response = await console.post("/api/handlers/test", content=body, headers=JSON)

    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "body_too_large"
    assert f"{API_MAX_BODY_BYTES:,}" in error["message"]
    assert body.sent <= API_MAX_BODY_BYTES // 1_000_000 + 1


async def test_json_body_declared_over_limit_refused_413(console: httpx.AsyncClient):
    response = await console.post(
        "/api/config", content=b"{}", headers={**JSON, "content-length": str(API_MAX_BODY_BYTES + 1)}
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "/api/nope", 404, "not_found"),
        ("GET", "/api/runs/1/nope", 404, "not_found"),
        ("DELETE", "/api/nope/deeper", 404, "not_found"),
        ("GET", "/webhooks/other", 404, "not_found"),
        ("DELETE", "/api/runs", 405, "method_not_allowed"),
    ],
)
async def test_a_path_no_api_route_serves_is_refused_in_the_contract_shape(
    console: httpx.AsyncClient, method: str, path: str, status: int, code: str
):
    """Not the console's HTML page with 200 (NiceGUI draws its frame for any path it does not know)."""
    response = await console.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == status, response.text[:200]
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == code


async def test_a_page_path_the_console_does_not_know_still_draws_its_frame(console: httpx.AsyncClient):
    response = await console.get("/no-such-page")
    assert response.headers["content-type"].startswith("text/html")
