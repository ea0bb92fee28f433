"""Regression: deeply nested patterns, templates and snippets are refused with a 500 and a traceback, not a 422."""

from __future__ import annotations

import json

import httpx

CLOCK = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b01"


async def _save(console: httpx.AsyncClient, kind: str, spec: dict) -> httpx.Response:
    return await console.post(
        "/api/handlers", json={"agent_id": CLOCK, "tool_name": "get_current_time", "kind": kind, "spec": spec}
    )


async def test_save_rules_deeply_nested_regex_refused_422(console: httpx.AsyncClient):
    """``re.compile`` of 500 nested groups raises RecursionError; ``_compile_text`` catches only ``re.error``."""
    spec = {"rules": [{"when": [{"kind": "regex", "path": "city", "value": "(" * 500 + ")" * 500}]}]}
    response = await _save(console, "rules", spec)
    assert response.status_code == 422, response.text


async def test_save_rules_deeply_nested_jmespath_refused_422(console: httpx.AsyncClient):
    """``jmespath.compile`` of a deeply nested expression raises RecursionError, not a JMESPathError."""
    spec = {"rules": [{"when": [{"kind": "jmespath", "value": "!" * 5000 + "a"}]}]}
    response = await _save(console, "rules", spec)
    assert response.status_code == 422, response.text


async def test_save_rules_deeply_nested_template_refused_422(console: httpx.AsyncClient):
    """``check_template`` catches only ``TemplateSyntaxError``; Jinja's parser hits RecursionError first."""
    spec = {"rules": [], "default": {"output": "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}"}}
    response = await _save(console, "rules", spec)
    assert response.status_code == 422, response.text


async def test_save_python_deeply_nested_expression_refused_422(console: httpx.AsyncClient):
    """``check_snippet`` catches SyntaxError and ValueError; CPython's parser raises MemoryError (or
    RecursionError) for an expression nested this deep."""
    code = "def handle(args, agent_id, task_id):\n    return " + "-" * 100_000 + "1\n"
    response = await _save(console, "python", {"code": code})
    assert response.status_code == 422, response.text


async def test_test_handler_deeply_nested_regex_refused_422(console: httpx.AsyncClient):
    """The Test endpoint runs the same validation and fails the same way (500)."""
    spec = {"rules": [{"when": [{"kind": "regex", "path": "city", "value": "(" * 500 + ")" * 500}]}]}
    response = await console.post("/api/handlers/test", json={"kind": "rules", "spec": spec, "args": {"city": "x"}})
    assert response.status_code == 422, response.text


async def test_import_config_deeply_nested_regex_refused_422(console: httpx.AsyncClient):
    """Import checks handlers with ``_check_handlers``, which catches only ValidationError and HandlerInvalid."""
    document = {
        "format": "tooldesk-config",
        "version": 1,
        "handlers": [
            {
                "agent_id": CLOCK,
                "tool_name": "get_current_time",
                "kind": "rules",
                "spec": {"rules": [{"when": [{"kind": "regex", "path": "city", "value": "(" * 500 + ")" * 500}]}]},
            }
        ],
    }
    response = await console.post("/api/config", json=document)
    assert response.status_code == 422, response.text


async def test_save_static_nan_output_refused_422(console: httpx.AsyncClient):
    """``NaN`` is accepted (pydantic's JSON parser allows it), stored, echoed back as ``null``, and answered as
    the text ``NaN``: not JSON, though the README says a JSON value is sent JSON-encoded."""
    body = json.dumps(
        {"agent_id": CLOCK, "tool_name": "get_current_time", "kind": "static", "spec": {"output": "@"}}
    ).replace('"@"', "NaN")
    response = await console.post("/api/handlers", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
